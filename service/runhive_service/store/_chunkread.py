"""Reading one metric as chunks: the stored `metric_chunks`, then the rows the daemon's index has not reached.

A chunk here is `(first_step, n, min, max, last, steps_blob, vals_blob)`, blobs None when not asked for. Rows
past a run's `indexed_rows` are read from its history blocks and cut into chunks the same way the index will
cut them, so callers never see the difference, only the extra decoding while the index catches up.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

from ._schema import CHUNK

Chunk = tuple[Any, ...]


def lagging_runs(db: sqlite3.Connection, pks: Iterable[int]) -> dict[int, int]:
    """{run pk: rows indexed} for the runs whose index is behind their rows."""
    pks = list(pks)
    if not pks:
        return {}
    marks = ",".join("?" * len(pks))
    try:
        rows = db.execute(
            f"SELECT pk, indexed_rows FROM runs WHERE pk IN ({marks}) AND indexed_rows < history_rows", pks
        ).fetchall()
    except sqlite3.OperationalError:  # a store from before the index was deferred: chunks cover every row
        return {}
    return dict(rows)


def tail_points(
    db: sqlite3.Connection, run_pk: int, indexed: int, keys: Sequence[str]
) -> dict[str, tuple[list[int], list[float]]]:
    """The points of `keys` in the run's rows from `indexed` on: {key: (steps, values)}."""
    from runhive.protocol import messages as pb
    from runhive.protocol.rows import history_columns, history_steps

    wanted = set(keys)
    out: dict[str, tuple[list[int], list[float]]] = {k: ([], []) for k in keys}
    for (data,) in db.execute(
        "SELECT data FROM history_blocks WHERE run_pk=? AND first_idx>=? ORDER BY first_idx",
        (run_pk, indexed),
    ):
        for rec in pb.RecordBatch.FromString(data).records:
            if rec.WhichOneof("kind") != "history":
                continue
            h = rec.history
            steps = None
            for name, col in history_columns(h):
                if name in wanted:
                    steps = steps if steps is not None else history_steps(h)
                    s, v = out[name]
                    s.extend(steps)
                    v.extend(col)
    return out


def as_chunks(steps: list[int], vals: list[float], blobs: bool) -> list[Chunk]:
    chunks = []
    for i in range(0, len(vals), CHUNK):
        part = vals[i : i + CHUNK]
        clean = [v for v in part if v == v]  # NaN is a point but not a min or max, as in stored chunks
        chunks.append(
            (
                steps[i],
                len(part),
                min(clean) if clean else None,
                max(clean) if clean else None,
                part[-1] if part[-1] == part[-1] else None,
                array("q", steps[i : i + CHUNK]).tobytes() if blobs else None,
                array("d", part).tobytes() if blobs else None,
            )
        )
    return chunks


def read_chunks(
    db: sqlite3.Connection, key: str, pks: Sequence[int], buckets: int | None = None
) -> dict[int, list[Chunk]]:
    """Every chunk of metric `key` for runs `pks`, in order: {run pk: chunks}, leaving out runs without a
    point. Steps and values come only for runs with at most `buckets` points (for all when None). Call inside
    one read transaction (`snapshot`)."""
    tails = {pk: tail_points(db, pk, done, [key])[key] for pk, done in lagging_runs(db, pks).items()}
    kp = db.execute("SELECT pk FROM metric_keys WHERE name=?", (key,)).fetchone()
    counts: dict[int, int] = {}
    if kp is not None and pks:
        counts.update(
            db.execute(
                f"SELECT run_pk, SUM(n) FROM metric_chunks WHERE key_pk=? AND run_pk IN ({','.join('?' * len(pks))})"
                " GROUP BY run_pk",
                (kp[0], *pks),
            ).fetchall()
        )
    for pk, (_, vals) in tails.items():
        if vals:
            counts[pk] = counts.get(pk, 0) + len(vals)
    with_blobs = {pk for pk, n in counts.items() if buckets is None or n <= buckets}
    out: dict[int, list[Chunk]] = {pk: [] for pk in pks if pk in counts}
    if kp is not None:
        for group, cols in ((with_blobs, "steps, vals"), (set(out) - with_blobs, "NULL, NULL")):
            if not group:
                continue
            rows = db.execute(
                f"SELECT run_pk, first_step, n, min, max, last, {cols} FROM metric_chunks WHERE key_pk=?"
                f" AND run_pk IN ({','.join('?' * len(group))}) ORDER BY run_pk, chunk",
                (kp[0], *group),
            ).fetchall()
            for r in rows:
                out[r[0]].append(r[1:])
    for pk, (steps, vals) in tails.items():
        if vals:
            out[pk].extend(as_chunks(steps, vals, pk in with_blobs))
    return out


class snapshot:
    """One read transaction: what the daemon commits meanwhile (chunks moving ahead of `indexed_rows`) is
    not seen half-way."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.execute("ROLLBACK")
