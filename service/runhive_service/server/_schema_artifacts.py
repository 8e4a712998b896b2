"""What artifacts add to `_schema` (on the same MetaData, so the migrated-schema check covers them); migration 0007
creates these tables. W&B's model: an artifact name in a project is a collection whose versions are numbered v0,
v1, ...; identical contents (the same digest) are one version; `latest` is the newest; other aliases point at one
version each; runs log and use versions.

- `artifact_collections`: one row per (project, name), holding the next version number. A version is added under
  a lock on this row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE`), so replicas sharing one
  database number versions without gaps or duplicates; the unique keys below are the backstop.
- `artifact_versions`: one version's manifest fields; `digest` (sha256 over the sorted (path, file digest, ref)
  list, as the node's store computes it) is unique per collection: logging identical contents again finds the
  version. `logged_by` is the id of the run (in the same project) that first logged it, a plain column: the run
  may be deleted and the version stays (W&B's `logged_by()` then answers None).
- Links (migration 0008): a version whose `source_*` columns are set is a link (W&B's `link_artifact`,
  `link_model`, registries: `<entity>/model-registry/<name>`, `<entity>/wandb-registry-<r>/<name>`) to the version
  they name, with a copy of its file rows (the bytes are shared by sha256); deleting the source deletes its links.
- `artifact_files`: a version's files; the bytes are in the file store by `sha256` (`_filestore.blob_key`), shared
  with run files and other versions. The column is named `sha256` on purpose: deleting a run removes a blob only
  when no row of any table with a `sha256` column names it. References (`add_reference`) have `ref` and no bytes.
- `artifact_aliases`: (project, name, alias) → version; "latest" is never stored (the highest version number).
- `artifact_runs`: which run logged or used which version. Its foreign key to `runs` makes `_delete` remove a
  deleted run's lineage rows with its other rows; the version may live in another project (`art_project_id`).

The project id leads every key (Citus-ready, as every table of run data).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ._db import JSONDoc
from ._schema import metadata

USES = ("logged", "used")

artifact_collections = Table(
    "artifact_collections",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("name", String(128), primary_key=True),
    Column("next_version", Integer, nullable=False, default=0),
    Column("created_at", Double, nullable=False),
)

artifact_versions = Table(
    "artifact_versions",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("type", String(128), nullable=False),
    Column("description", Text),
    Column("metadata", JSONDoc, nullable=False, default=dict),
    Column("tags", JSONDoc, nullable=False, default=list),
    Column("digest", String(64), nullable=False),
    Column("logged_by", String(128)),
    Column("created_by", Integer, ForeignKey("users.id")),
    Column("created_at", Double, nullable=False),
    # A link (migration 0008): the version it points at, whose files it carries; None for a logged version.
    Column("source_project_id", Integer),
    Column("source_name", String(128)),
    Column("source_version", Integer),
    ForeignKeyConstraint(
        ["project_id", "name"], ["artifact_collections.project_id", "artifact_collections.name"]
    ),
    UniqueConstraint("project_id", "name", "digest"),
    Index(None, "project_id", "created_at"),
    Index(None, "source_project_id", "source_name", "source_version"),
)

artifact_files = Table(
    "artifact_files",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("path", Text, primary_key=True),
    Column("sha256", String(64), index=True),  # None for a reference without a checksum
    Column("size", BigInteger, nullable=False),
    Column("ref", Text),
    Column("extra", JSONDoc),  # the manifest entry's other fields (an http reference's etag, ...)
    ForeignKeyConstraint(
        ["project_id", "name", "version"],
        ["artifact_versions.project_id", "artifact_versions.name", "artifact_versions.version"],
    ),
)

artifact_aliases = Table(
    "artifact_aliases",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", Double, nullable=False),
    ForeignKeyConstraint(
        ["project_id", "name", "version"],
        ["artifact_versions.project_id", "artifact_versions.name", "artifact_versions.version"],
    ),
)

artifact_runs = Table(
    "artifact_runs",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),  # the run's project
    Column("run_id", String(128), primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("art_project_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Double, nullable=False),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
    ForeignKeyConstraint(
        ["art_project_id", "name", "version"],
        ["artifact_versions.project_id", "artifact_versions.name", "artifact_versions.version"],
    ),
    CheckConstraint("kind IN ('logged', 'used')", name="kind"),
    Index(None, "art_project_id", "name", "version"),
)

__all__ = [
    "USES",
    "artifact_aliases",
    "artifact_collections",
    "artifact_files",
    "artifact_runs",
    "artifact_versions",
]
