"""Artifacts on the team server (`_schema_artifacts`): collections (the next version number, the row locked while a
version is added), versions (manifest fields, the digest unique per collection), their files (by sha256 in the file
store), aliases ("latest" is not stored) and which runs logged or used which version.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _version_fk(table: str, local: str = "project_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [local, "name", "version"],
        ["artifact_versions.project_id", "artifact_versions.name", "artifact_versions.version"],
        name=op.f(f"fk_{table}_{local}_name_version_artifact_versions"),
    )


def upgrade() -> None:
    op.create_table(
        "artifact_collections",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_artifact_collections_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "name", name=op.f("pk_artifact_collections")),
    )
    op.create_table(
        "artifact_versions",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", _json(), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("logged_by", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "name"],
            ["artifact_collections.project_id", "artifact_collections.name"],
            name=op.f("fk_artifact_versions_project_id_name_artifact_collections"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_artifact_versions_created_by_users")
        ),
        sa.PrimaryKeyConstraint("project_id", "name", "version", name=op.f("pk_artifact_versions")),
        sa.UniqueConstraint(
            "project_id", "name", "digest", name=op.f("uq_artifact_versions_project_id_name_digest")
        ),
    )
    op.create_index(
        op.f("ix_artifact_versions_project_id_created_at"), "artifact_versions", ["project_id", "created_at"]
    )
    op.create_table(
        "artifact_files",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=True),
        sa.Column("extra", _json(), nullable=True),
        _version_fk("artifact_files"),
        sa.PrimaryKeyConstraint("project_id", "name", "version", "path", name=op.f("pk_artifact_files")),
    )
    op.create_index(op.f("ix_artifact_files_sha256"), "artifact_files", ["sha256"])
    op.create_table(
        "artifact_aliases",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        _version_fk("artifact_aliases"),
        sa.PrimaryKeyConstraint("project_id", "name", "alias", name=op.f("pk_artifact_aliases")),
    )
    op.create_table(
        "artifact_runs",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("art_project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.CheckConstraint("kind IN ('logged', 'used')", name=op.f("ck_artifact_runs_kind")),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_artifact_runs_project_id_run_id_runs"),
        ),
        _version_fk("artifact_runs", "art_project_id"),
        sa.PrimaryKeyConstraint(
            "project_id", "run_id", "kind", "art_project_id", "name", "version", name=op.f("pk_artifact_runs")
        ),
    )
    op.create_index(
        op.f("ix_artifact_runs_art_project_id_name_version"),
        "artifact_runs",
        ["art_project_id", "name", "version"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_artifact_runs_art_project_id_name_version"), table_name="artifact_runs")
    op.drop_table("artifact_runs")
    op.drop_table("artifact_aliases")
    op.drop_index(op.f("ix_artifact_files_sha256"), table_name="artifact_files")
    op.drop_table("artifact_files")
    op.drop_index(op.f("ix_artifact_versions_project_id_created_at"), table_name="artifact_versions")
    op.drop_table("artifact_versions")
    op.drop_table("artifact_collections")
