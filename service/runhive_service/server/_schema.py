"""The team server's tables (SQLAlchemy Core). The migrations in `migrations/versions/` create them; a test checks
that a migrated database matches these definitions on PostgreSQL and SQLite.

Keys: the project id leads the key of every table that holds run data (runs, metric keys, history, marks, sweeps,
files), so those tables can later be distributed by project (Citus) with one project's rows on one node. Users,
entities, teams and projects are small reference tables. Times are seconds since the epoch (float), as in the
local store and the `Api()` records.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ._db import FloatArray, JSONDoc, StepArray

# Deterministic constraint names: migrations can refer to them, and both backends name them alike.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ROLES = ("admin", "member", "viewer")
VISIBILITIES = ("private", "team", "open")
ENTITY_KINDS = ("user", "team")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# An entity owns projects: every user has one of their own (same name), and every team is one.
entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("created_at", Double, nullable=False),
    CheckConstraint(_in("kind", ENTITY_KINDS), name="kind"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", Double, nullable=False),
)

# API keys: `rhk_<id>_<secret>`; only the sha256 of the whole key is kept. Revoking sets revoked_at.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("hash", String(64), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double),
    Column("revoked_at", Double),
)

# Dashboard sessions (`_sessions`): `rhs_<id>_<secret>` in a cookie; only the sha256 is kept. Opened with an API
# key (key_id): revoking that key ends the session.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("key_id", String(16), ForeignKey("api_keys.id"), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
)

# Team membership (the team is an entity of kind 'team').
memberships = Table(
    "memberships",
    metadata,
    Column("entity_id", Integer, ForeignKey("entities.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True, index=True),
    Column("role", String(8), nullable=False),
    Column("created_at", Double, nullable=False),
    CheckConstraint(_in("role", ROLES), name="role"),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("visibility", String(8), nullable=False, default="private"),
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("entity_id", "name"),
    CheckConstraint(_in("visibility", VISIBILITIES), name="visibility"),
)

runs = Table(
    "runs",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    Column("tags", JSONDoc, nullable=False, default=list),
    Column("group", Text, nullable=False, default=""),
    Column("job_type", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False, default="running"),
    Column("exit_code", Integer),
    Column("config", JSONDoc, nullable=False, default=dict),
    Column("summary", JSONDoc, nullable=False, default=dict),
    Column("metadata", JSONDoc, nullable=False, default=dict),
    Column("sweep_id", String(64)),
    Column("host", Text, nullable=False, default=""),
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("heartbeat_at", Double),
    Column("last_step", BigInteger, nullable=False, default=-1),
    Column("history_rows", BigInteger, nullable=False, default=0),
    # What ingest needs to continue the run on any replica: writers (open, exit code) and the aggregator.
    Column("ingest", JSONDoc),
    Index(None, "project_id", "created_at"),
    Index(None, "project_id", "state"),
)

# Metric keys interned per project: history rows carry the integer, never the string.
metric_keys = Table(
    "metric_keys",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("key", Text, nullable=False),
    UniqueConstraint("project_id", "key"),
)

# Per (run, key): what charts and summaries need without reading history.
run_keys = Table(
    "run_keys",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False, default=0),
    Column("first_step", BigInteger),
    Column("last_step", BigInteger),
    Column("vmin", Double),
    Column("vmax", Double),
    Column("vlast", Double),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)

# History: one row per (run, key, writer segment, upload batch) holding arrays, never a row per point. `steps` is
# NULL when the steps are dense (first_step, first_step + 1, ...). vmin/vmax/vfirst/vlast let a zoomed-out chart
# read only these columns (min/max per bucket); a compactor may later merge small chunks.
history_chunks = Table(
    "history_chunks",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("seg", Integer, primary_key=True, autoincrement=False, default=0),
    Column("first_step", BigInteger, primary_key=True, autoincrement=False),
    Column("last_step", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
    Column("steps", StepArray),
    Column("values", FloatArray, nullable=False),
    Column("vmin", Double),
    Column("vmax", Double),
    Column("vfirst", Double),
    Column("vlast", Double),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)

# Values that are not numbers (media references, tables, histograms, strings), one per (run, key, step).
history_objects = Table(
    "history_objects",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("step", BigInteger, primary_key=True, autoincrement=False),
    Column("value", JSONDoc, nullable=False),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)

# The ingest high-water mark of each stream (run, writer): the highest sequence number applied. A batch and its mark
# advance in one transaction, so a replay at or below the mark stores nothing twice.
stream_marks = Table(
    "stream_marks",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("writer", String(128), primary_key=True),
    Column("seg", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False, default=0),
    Column("updated_at", Double, nullable=False),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)

sweeps = Table(
    "sweeps",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("sweep_id", String(64), primary_key=True),
    Column("name", Text, nullable=False, default=""),
    Column("config", JSONDoc, nullable=False),
    Column("state", String(16), nullable=False, default="PENDING"),
    Column("controller", JSONDoc, nullable=False, default=dict),
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
)

# Sweep runs handed to agents as leases: claimed with a row lock (FOR UPDATE SKIP LOCKED on PostgreSQL), kept by
# the agent's heartbeat; an expired lease puts the run back in the queue.
sweep_runs = Table(
    "sweep_runs",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("sweep_id", String(64), primary_key=True),
    Column("run_id", String(128), primary_key=True),
    Column("params", JSONDoc, nullable=False),
    Column("state", String(16), nullable=False, default="queued"),
    Column("agent", String(128)),
    Column("lease_expires_at", Double),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    ForeignKeyConstraint(["project_id", "sweep_id"], ["sweeps.project_id", "sweeps.sweep_id"]),
    Index(None, "project_id", "sweep_id", "state"),
)

# Run files: the manifest of a run's files; their bytes live in the file store, content-addressed by sha256
# (`_filestore.blob_key`). A path sent again with other contents (a "live" file) replaces its row.
run_files = Table(
    "run_files",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double),  # migration 0003
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)
