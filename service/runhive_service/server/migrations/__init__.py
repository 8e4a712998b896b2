"""Alembic migrations of the team server's database (run by `runhive_service.server._migrate.migrate`).

A package so that an installed runhive ships them. To write a new revision, from the repository's root:
`python -c "from runhive_service.server._migrate import revision; revision('what it does')"` against a database
at head, then review what autogenerate wrote.
"""
