"""`runhive server`: the team server (needs the `server` extra: SQLAlchemy, Alembic, psycopg, Starlette, uvicorn).

Today the foundation: the database (`_db`, `_schema`, Alembic migrations in `migrations/` run under a lock by
`_migrate`), users, API keys, teams, projects and the permission rules (`_store`, `_perms`, `_keys`), and the HTTP
app with `/healthz` and `/api/v1/viewer` (`_app`, `_server`). Ingest (the daemons' uploader) and the read API for
`Api()` and the dashboard come next. Only `runhive server` imports this room: `import runhive` stays light.
"""

from ._app import create_app
from ._db import database_url, open_engine, shown_url
from ._errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    SchemaError,
    ServerError,
    Unauthenticated,
)
from ._history import intern_keys
from ._migrate import check_schema, head_revision, migrate
from ._server import Server, ServerConfig
from ._store import Entity, KeyInfo, NewKey, Project, ServerStore, User

__all__ = [
    "AlreadyExists",
    "Entity",
    "InvalidArgument",
    "KeyInfo",
    "NewKey",
    "NotFound",
    "PermissionDenied",
    "Project",
    "SchemaError",
    "Server",
    "ServerConfig",
    "ServerError",
    "ServerStore",
    "Unauthenticated",
    "User",
    "check_schema",
    "create_app",
    "database_url",
    "head_revision",
    "intern_keys",
    "migrate",
    "open_engine",
    "shown_url",
]
