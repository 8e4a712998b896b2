"""Artifact links on the team server (`_schema_artifacts`): a version of a collection may be a link to a version of
another collection (a registered model, a registry), naming its source in `source_project_id`, `source_name` and
`source_version`; the index finds the links of a source (deleted with it).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("artifact_versions", sa.Column("source_project_id", sa.Integer(), nullable=True))
    op.add_column("artifact_versions", sa.Column("source_name", sa.String(length=128), nullable=True))
    op.add_column("artifact_versions", sa.Column("source_version", sa.Integer(), nullable=True))
    op.create_index(
        op.f("ix_artifact_versions_source_project_id_source_name_source_version"),
        "artifact_versions",
        ["source_project_id", "source_name", "source_version"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_artifact_versions_source_project_id_source_name_source_version"),
        table_name="artifact_versions",
    )
    op.drop_column("artifact_versions", "source_version")
    op.drop_column("artifact_versions", "source_name")
    op.drop_column("artifact_versions", "source_project_id")
