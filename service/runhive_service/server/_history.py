"""Run data helpers shared by ingest and the read API (both to come): metric keys interned to integer ids.

History rows never carry a key string: `intern_keys` maps a project's key names to small integers, allocating new
ones safely when several server replicas see the same new key at once (an insert that loses the race does nothing,
and the loop reads what the winner stored).

On PostgreSQL the allocation of new ids takes a per-project advisory lock first: two transactions inserting
overlapping key sets touch two unique indexes (key id and key name) in different orders, and CI saw PostgreSQL
abort one of them as a deadlock. Only transactions that meet a new key take the lock, so steady-state ingest
(all keys known) never waits on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select, text

from ._schema import metric_keys
from ._store import insert_ignore

MAX_KEY_LENGTH = 4096
# The first half of the two-int advisory lock key, so these locks never collide with another feature's.
_LOCK_SPACE = 0x6B657973  # "keys"


def intern_keys(conn: Connection, project_id: int, keys: Iterable[str]) -> dict[str, int]:
    """{key: key_id} for every key of `keys` in the project, creating ids for new keys (inside the caller's
    transaction; ids are 1, 2, 3, ... per project)."""
    want = sorted(set(keys))
    for key in want:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"metric key {key[:40]!r} must be 1 to {MAX_KEY_LENGTH} characters")
    found = _lookup(conn, project_id, want)
    missing = [k for k in want if k not in found]
    if missing and conn.dialect.name == "postgresql":
        # Held to the end of the caller's transaction; other replicas allocating in this project wait here.
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, :project)"),
            {"space": _LOCK_SPACE, "project": project_id},
        )
        found.update(_lookup(conn, project_id, missing))
        missing = [k for k in missing if k not in found]
    while missing:
        top = conn.execute(
            select(func.coalesce(func.max(metric_keys.c.key_id), 0)).where(
                metric_keys.c.project_id == project_id
            )
        ).scalar_one()
        for i, key in enumerate(missing, start=1):
            insert_ignore(conn, metric_keys, {"project_id": project_id, "key_id": top + i, "key": key})
        found.update(_lookup(conn, project_id, missing))
        missing = [k for k in missing if k not in found]
    return found


def _lookup(conn: Connection, project_id: int, keys: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        rows = conn.execute(
            select(metric_keys.c.key, metric_keys.c.key_id).where(
                metric_keys.c.project_id == project_id, metric_keys.c.key.in_(keys[start : start + 500])
            )
        )
        out.update({r.key: r.key_id for r in rows})
    return out
