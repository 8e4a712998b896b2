"""Opening the team server's database: PostgreSQL (`postgresql://...`, through psycopg 3) or SQLite
(`sqlite:///path`), with the column types that differ between them.

SQLite runs in WAL mode with foreign keys on, and every transaction starts with `BEGIN IMMEDIATE`: writers queue
on the busy timeout instead of failing when two connections upgrade a read to a write at once. It is the small-team
and test backend; PostgreSQL is the production one.
"""

from __future__ import annotations

import array
import sys
from typing import Any

from sqlalchemy import BigInteger, Double, Engine, LargeBinary, create_engine, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.types import JSON, TypeDecorator, TypeEngine

from ._errors import InvalidArgument

SQLITE_BUSY_SECONDS = 30.0

# JSON documents (config, summary, ...): JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
JSONDoc = JSON().with_variant(postgresql.JSONB(), "postgresql")


class _NumberArray(TypeDecorator[list[Any]]):
    """A list of numbers: a native array on PostgreSQL, packed little-endian 8-byte values on SQLite."""

    impl = LargeBinary
    cache_ok = True
    _element: type[TypeEngine[Any]] = Double
    _code = "d"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self._element()))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return None if value is None else list(value)
        packed = array.array(self._code, value)
        if sys.byteorder != "little":
            packed.byteswap()
        return packed.tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any] | None:
        if value is None or dialect.name == "postgresql":
            return None if value is None else list(value)
        packed = array.array(self._code)
        packed.frombytes(bytes(value))
        if sys.byteorder != "little":
            packed.byteswap()
        return packed.tolist()


class FloatArray(_NumberArray):
    """float8[] on PostgreSQL (NaN and ±Inf kept), packed doubles on SQLite."""

    cache_ok = True


class StepArray(_NumberArray):
    """int8[] on PostgreSQL, packed 64-bit integers on SQLite."""

    cache_ok = True
    _element = BigInteger
    _code = "q"


def database_url(url: str) -> URL:
    """The SQLAlchemy URL of a `--db` value: `postgresql://` (or `postgres://`) uses psycopg 3, `sqlite:///path`
    the standard library. Anything else is refused with the forms that work."""
    try:
        parsed = make_url(
            url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
        )
    except ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if (
        parsed is not None
        and parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
    ):
        return parsed.set(drivername="sqlite")
    raise InvalidArgument(
        f"--db {url!r} is not a database runhive server can use: give postgresql://USER:PASSWORD@HOST:PORT/DB "
        "(or postgresql:///DB?host=/socket/dir) or sqlite:///path/to/file.db"
    )


def shown_url(url: URL) -> str:
    """The URL as it may be printed: no password, no driver name."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def open_engine(url: str | URL, *, pool_size: int = 5) -> Engine:
    """An engine for `url` (a `--db` value or a URL from `database_url`)."""
    parsed = database_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see `_on_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
