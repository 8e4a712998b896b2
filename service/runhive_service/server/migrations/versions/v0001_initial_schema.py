"""The initial schema: users, API keys, entities, teams and memberships, projects, runs, metric keys, history
chunks and objects, stream marks, sweeps and their run leases, run file manifests.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import runhive_service.server._db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.CheckConstraint("kind IN ('user', 'team')", name=op.f("ck_entities_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("name", name=op.f("uq_entities_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_users_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("entity_id", name=op.f("uq_users_entity_id")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("last_used_at", sa.Double(), nullable=True),
        sa.Column("revoked_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)
    op.create_table(
        "memberships",
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'member', 'viewer')", name=op.f("ck_memberships_role")),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_memberships_entity_id_entities")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users")),
        sa.PrimaryKeyConstraint("entity_id", "user_id", name=op.f("pk_memberships")),
    )
    op.create_index(op.f("ix_memberships_user_id"), "memberships", ["user_id"], unique=False)
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("visibility", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.CheckConstraint("visibility IN ('private', 'team', 'open')", name=op.f("ck_projects_visibility")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_projects_created_by_users")),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name=op.f("fk_projects_entity_id_entities")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("entity_id", "name", name=op.f("uq_projects_entity_id_name")),
    )
    op.create_table(
        "metric_keys",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_metric_keys_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", "key_id", name=op.f("pk_metric_keys")),
        sa.UniqueConstraint("project_id", "key", name=op.f("uq_metric_keys_project_id_key")),
    )
    op.create_table(
        "runs",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("group", sa.Text(), nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sweep_id", sa.String(length=64), nullable=True),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.Double(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("history_rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_runs_created_by_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_runs_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", "run_id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_project_id_created_at"), "runs", ["project_id", "created_at"], unique=False)
    op.create_index(op.f("ix_runs_project_id_state"), "runs", ["project_id", "state"], unique=False)
    op.create_table(
        "sweeps",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sweep_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "controller",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_sweeps_created_by_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_sweeps_project_id_projects")),
        sa.PrimaryKeyConstraint("project_id", "sweep_id", name=op.f("pk_sweeps")),
    )
    op.create_table(
        "history_chunks",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seg", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("steps", runhive_service.server._db.StepArray(), nullable=True),
        sa.Column("values", runhive_service.server._db.FloatArray(), nullable=False),
        sa.Column("vmin", sa.Double(), nullable=True),
        sa.Column("vmax", sa.Double(), nullable=True),
        sa.Column("vfirst", sa.Double(), nullable=True),
        sa.Column("vlast", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_history_chunks_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "run_id", "key_id", "seg", "first_step", name=op.f("pk_history_chunks")
        ),
    )
    op.create_table(
        "history_objects",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_history_objects_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint("project_id", "run_id", "key_id", "step", name=op.f("pk_history_objects")),
    )
    op.create_table(
        "run_files",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_run_files_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint("project_id", "run_id", "path", name=op.f("pk_run_files")),
    )
    op.create_index(op.f("ix_run_files_sha256"), "run_files", ["sha256"], unique=False)
    op.create_table(
        "run_keys",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("vmin", sa.Double(), nullable=True),
        sa.Column("vmax", sa.Double(), nullable=True),
        sa.Column("vlast", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_run_keys_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint("project_id", "run_id", "key_id", name=op.f("pk_run_keys")),
    )
    op.create_table(
        "stream_marks",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column("writer", sa.String(length=128), nullable=False),
        sa.Column("seg", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "run_id"],
            ["runs.project_id", "runs.run_id"],
            name=op.f("fk_stream_marks_project_id_run_id_runs"),
        ),
        sa.PrimaryKeyConstraint("project_id", "run_id", "writer", name=op.f("pk_stream_marks")),
    )
    op.create_table(
        "sweep_runs",
        sa.Column("project_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sweep_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=128), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id", "sweep_id"],
            ["sweeps.project_id", "sweeps.sweep_id"],
            name=op.f("fk_sweep_runs_project_id_sweep_id_sweeps"),
        ),
        sa.PrimaryKeyConstraint("project_id", "sweep_id", "run_id", name=op.f("pk_sweep_runs")),
    )
    op.create_index(
        op.f("ix_sweep_runs_project_id_sweep_id_state"),
        "sweep_runs",
        ["project_id", "sweep_id", "state"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sweep_runs_project_id_sweep_id_state"), table_name="sweep_runs")
    op.drop_table("sweep_runs")
    op.drop_table("stream_marks")
    op.drop_table("run_keys")
    op.drop_index(op.f("ix_run_files_sha256"), table_name="run_files")
    op.drop_table("run_files")
    op.drop_table("history_objects")
    op.drop_table("history_chunks")
    op.drop_table("sweeps")
    op.drop_index(op.f("ix_runs_project_id_state"), table_name="runs")
    op.drop_index(op.f("ix_runs_project_id_created_at"), table_name="runs")
    op.drop_table("runs")
    op.drop_table("metric_keys")
    op.drop_table("projects")
    op.drop_index(op.f("ix_memberships_user_id"), table_name="memberships")
    op.drop_table("memberships")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("entities")
