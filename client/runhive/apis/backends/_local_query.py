"""`Api().runs()` pages in the local store's SQL: a `Cond` (see `_base`) as a WHERE clause and an order as ORDER BY.

Every predicate is made two-valued (`COALESCE(..., 0)`), so `NOT` and `$nor` of a comparison with a NULL time
match as Python's predicate does. `regex` calls Python's `re.search` through a function registered on the
connection (`register`).
"""

from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from typing import Any

from ._base import Cond

# Filter doc field -> runs column.
COLUMNS = {
    "id": "id",
    "name": "id",  # W&B's `name` is the run id
    "display_name": "name",
    "state": "state",
    "group": "grp",
    "job_type": "job_type",
    "notes": "notes",
    "created_at": "created_at",
    "updated_at": "updated_at",
}
_OPS = {"eq": "=", "ne": "IS NOT", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: Any) -> int:
    return int(isinstance(value, str) and _compiled(pattern).search(value) is not None)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("rh_regexp", 2, _regexp, deterministic=True)


def where_sql(cond: Cond, args: list[Any]) -> str:
    """`cond` as an SQL expression over the runs table (0 or 1, never NULL); its parameters appended to `args`."""
    kind = cond[0]
    if kind == "const":
        return "1" if cond[1] else "0"
    if kind in ("and", "or"):
        parts = [where_sql(c, args) for c in cond[1]]
        if not parts:
            return "1" if kind == "and" else "0"
        return "(" + f" {kind.upper()} ".join(parts) + ")"
    if kind == "not":
        return f"(NOT {where_sql(cond[1], args)})"
    column = COLUMNS[cond[1]]
    if kind == "cmp":
        args.append(cond[3])
        return f"COALESCE({column} {_OPS[cond[2]]} ?, 0)"
    if kind == "in":
        values = list(cond[2])
        if not values:
            return "0"
        args.extend(values)
        return f"COALESCE({column} IN ({', '.join('?' * len(values))}), 0)"
    if kind == "regex":
        args.append(cond[2])
        return f"rh_regexp(?, {column})"
    raise ValueError(f"unknown condition {kind!r}")


def order_sql(field: str, descending: bool) -> str:
    """ORDER BY for a field: runs without a value last; ties in creation order (as Python's stable sort of the
    runs read in creation order; newest first for "-created_at")."""
    column = COLUMNS[field]
    d = "DESC" if descending else "ASC"
    if column == "created_at":
        return f"created_at IS NULL, created_at {d}, pk {d}"
    return f"{column} IS NULL, {column} {d}, created_at, pk"
