"""Alembic's environment: migrate on the connection `runhive_service.server._migrate` hands over (and holds the
lock on). There is no alembic.ini and no URL here."""

from __future__ import annotations

from alembic import context

from runhive_service.server._schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("runhive's migrations run through runhive_service.server._migrate.migrate(engine)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later revisions' alter_column etc. copy the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
