"""What sweeps on the team server add to `_schema` (on the same MetaData, so the migrated-schema check covers it).

The tables are `_schema`'s: `sweeps` (its `controller` document holds the sweep's agents and their last call) and
`sweep_runs` (the leases). Added here: an index on the runs of a sweep, which the controller (a run's state and
metric) and the read API (`Sweep.runs`) look up by sweep id within the project.
"""

from __future__ import annotations

from sqlalchemy import Index

from ._schema import runs

runs_by_sweep = Index(None, runs.c.project_id, runs.c.sweep_id)
