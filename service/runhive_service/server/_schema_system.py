"""What system metrics and run deletion add to `_schema` (on the same MetaData, so the migrated-schema check covers
them); migration 0006 creates both tables.

- `system_metrics`: the samples of the daemon's system monitor (`runhive_service.daemon._sysmon`), as the uploader
  sends them from the node's local store: one row per sample, W&B's key names in one JSON document, as the local
  store keeps them. Keyed (project, run, node, ts): the project leads (Citus-ready, as every table of run data),
  `node` is the sending daemon's node id (two nodes of one run sample at their own times), and a replay of a
  sample already stored (a lost reply, a restart of either side) stores nothing twice. Its foreign key to `runs`
  makes `_delete` remove a deleted run's samples with its other rows.
- `deleted_runs`: a tombstone per run deleted on the server, so a daemon's late upload (records, files, samples)
  is refused instead of bringing the run back; its id cannot be used again (as in W&B: "was previously created
  and deleted; try a new run name").
"""

from __future__ import annotations

from sqlalchemy import Column, Double, ForeignKey, ForeignKeyConstraint, Integer, String, Table

from ._db import JSONDoc
from ._schema import metadata

system_metrics = Table(
    "system_metrics",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("node", String(64), primary_key=True),
    Column("ts", Double, primary_key=True, autoincrement=False),
    Column("runtime", Double, nullable=False),
    Column("data", JSONDoc, nullable=False),
    ForeignKeyConstraint(["project_id", "run_id"], ["runs.project_id", "runs.run_id"]),
)

deleted_runs = Table(
    "deleted_runs",
    metadata,
    Column("project_id", Integer, ForeignKey("projects.id"), primary_key=True, autoincrement=False),
    Column("run_id", String(128), primary_key=True),
    Column("deleted_at", Double, nullable=False),
    Column("deleted_by", Integer, ForeignKey("users.id")),
)

__all__ = ["deleted_runs", "system_metrics"]
