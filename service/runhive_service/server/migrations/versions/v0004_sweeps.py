"""Sweeps on the team server: an index on the runs of a sweep (`runs(project_id, sweep_id)`), which the
controller and `Sweep.runs` read by sweep id. The sweeps, their leases (`sweep_runs`) and their agents (in
`sweeps.controller`) use the tables of 0001.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_runs_project_id_sweep_id"), "runs", ["project_id", "sweep_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_runs_project_id_sweep_id"), table_name="runs")
