"""System metrics on the team server and tombstones of deleted runs (`_schema_system`): `system_metrics` holds the
samples the daemons' uploaders send, one row per (project, run, node, ts) with the sample as a JSON document;
`deleted_runs` remembers each run deleted on the server, so a late upload cannot recreate it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "system_metrics",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.Double(), autoincrement=False, nullable=False),
        sa.Column("runtime", sa.Double(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_system_metrics_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint("project_id", "run_id", "node", "ts", name=op.f("pk_system_metrics")),
    )
    op.create_table(
        "deleted_runs",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=False),
        sa.Column("deleted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_deleted_runs_project_id_projects")
        ),
        sa.ForeignKeyConstraint(["deleted_by"], ["users.id"], name=op.f("fk_deleted_runs_deleted_by_users")),
        sa.PrimaryKeyConstraint("project_id", "run_id", name=op.f("pk_deleted_runs")),
    )


def downgrade() -> None:
    op.drop_table("deleted_runs")
    op.drop_table("system_metrics")
