"""Run files as the uploader sends them: when each path last changed (a "live" file is sent again with its new
digest), so `run.files()` reads W&B's `updatedAt`. The bytes live in the file store (`--files`), by sha256.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_files") as batch:
        batch.add_column(sa.Column("updated_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_files") as batch:
        batch.drop_column("updated_at")
