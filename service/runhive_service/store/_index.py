"""The metric index: turns applied history blocks into per-metric chunks, behind the store's writes.

Applying a batch stores its rows (history blocks) and the run's summary; cutting every numeric column into
`metric_chunks` was most of the daemon's time per row, so it happens here, later, in transactions of its
own: when the applier is idle, or between batches once the backlog passes a bound. `runs.indexed_rows` says
how many of a run's rows the chunks cover; readers (`runhive.Api`) take the rest from the history blocks, so
a read right after `finish()` is complete, only slower while the index catches up. A crash loses nothing:
the index restarts from `indexed_rows`, which moves in the same transaction as the chunks it covers.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from array import array
from collections import OrderedDict
from typing import Any

from runhive.protocol.rows import history_columns, history_steps
from runhive.protocol.v1 import service_pb2 as pb

from ._schema import CHUNK

logger = logging.getLogger("runhive_service")

BATCH_ROWS = 5_000  # rows per indexing transaction: short, so applying new batches never waits long
CACHED_RUNS = 256  # runs whose newest chunks stay in memory between transactions


class OpenChunk:
    """The newest chunk of one metric of one run, kept in memory and rewritten while it fills."""

    __slots__ = ("chunk", "dirty", "key_pk", "max", "min", "steps", "vals")

    def __init__(self, key_pk: int, chunk: int) -> None:
        self.key_pk = key_pk
        self.chunk = chunk
        self.steps = array("q")
        self.vals = array("d")
        self.min = math.inf
        self.max = -math.inf
        self.dirty = False

    def add(self, steps: list[int], col: list[float]) -> None:
        self.vals.extend(col)
        self.steps.extend(steps)
        # NaN is kept in the chunk but not in its min/max. sum() is NaN when a NaN (or +inf and -inf) is in
        # the column: only then is it filtered element by element, which costs ~10x min() and max().
        total = sum(col)
        clean = col if total == total else [v for v in col if v == v]
        if clean:
            lo, hi = min(clean), max(clean)
            if lo < self.min:
                self.min = lo
            if hi > self.max:
                self.max = hi

    def row(self, run_pk: int) -> tuple[Any, ...]:
        vals = self.vals
        return (
            self.key_pk,
            run_pk,
            self.chunk,
            self.steps[0],
            self.steps[-1],
            len(vals),
            self.min if self.min != math.inf else None,
            self.max if self.max != -math.inf else None,
            vals[-1] if vals[-1] == vals[-1] else None,
            self.steps.tobytes(),
            vals.tobytes(),
        )


class Indexer:
    """Used only from the store's writer thread, on the writer's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self._keys: dict[str, int] = {n: pk for pk, n in db.execute("SELECT pk, name FROM metric_keys")}
        self._indexed: dict[int, int] = {}  # run pk -> rows covered by its chunks
        self._target: dict[int, int] = {}  # run pk -> rows applied, for runs the index is behind on
        self._chunks: OrderedDict[int, dict[str, OpenChunk]] = OrderedDict()
        for pk, done, rows in db.execute(
            "SELECT pk, indexed_rows, history_rows FROM runs WHERE indexed_rows < history_rows"
        ):
            self._indexed[pk] = done
            self._target[pk] = rows
        self.lag = sum(self._target[pk] - self._indexed[pk] for pk in self._target)  # rows not yet indexed

    def note(self, run_pk: int, rows: int) -> None:
        """The run now has `rows` history rows applied (inside the applying transaction)."""
        done = self._indexed.get(run_pk)
        if done is None:
            row = self.db.execute("SELECT indexed_rows FROM runs WHERE pk=?", (run_pk,)).fetchone()
            done = self._indexed[run_pk] = int(row[0]) if row else 0
        if rows > done:
            self.lag += rows - self._target.get(run_pk, done)
            self._target[run_pk] = rows

    def forget(self, run_pk: int) -> None:
        """The run's rows are gone (a deleted run): nothing of it is left to index."""
        if run_pk in self._target:
            self.lag -= self._target.pop(run_pk) - self._indexed.get(run_pk, 0)
        self._indexed.pop(run_pk, None)
        self._chunks.pop(run_pk, None)

    def run(self, budget: int = BATCH_ROWS) -> int:
        """Index up to about `budget` rows (whole blocks) in one transaction; returns the rows indexed."""
        if not self._target:
            return 0
        indexed = 0
        moved: dict[int, int] = {}
        points: list[tuple[int, OpenChunk]] = []
        self.db.execute("BEGIN")
        try:
            for pk in list(self._target):
                if indexed >= budget:
                    break
                start = self._indexed[pk]
                end = start
                cur = self.db.execute(
                    "SELECT first_idx, n, data FROM history_blocks WHERE run_pk=? AND first_idx>=?"
                    " ORDER BY first_idx",
                    (pk, start),
                )
                for first_idx, n, data in cur:
                    try:
                        self._add_block(pk, data, points)
                    except Exception:
                        # The rows stay readable from the block; only its chart points are missing.
                        logger.exception("run %d: history block %d cannot be indexed; skipped", pk, first_idx)
                    end = first_idx + n
                    indexed += n
                    if indexed >= budget:
                        break
                cur.close()
                moved[pk] = end
            if points:
                rows = []
                for run_pk, oc in points:
                    rows.append(oc.row(run_pk))
                    oc.dirty = False
                self.db.executemany(
                    "INSERT OR REPLACE INTO metric_chunks (key_pk, run_pk, chunk, first_step, last_step, n, min, max,"
                    " last, steps, vals) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            self.db.executemany(
                "UPDATE runs SET indexed_rows=? WHERE pk=?", [(end, pk) for pk, end in moved.items()]
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            self._chunks.clear()  # cached chunks hold points that were not written: read them again
            self._keys = {n: pk for pk, n in self.db.execute("SELECT pk, name FROM metric_keys")}
            raise
        while len(self._chunks) > CACHED_RUNS:  # only between transactions: a dirty chunk is never reread
            self._chunks.popitem(last=False)
        for pk, end in moved.items():
            target = self._target[pk]
            # Caught up, or the rows it was told of are not there (their transaction rolled back).
            if end >= target or end == self._indexed[pk]:
                self.lag -= target - self._indexed[pk]
                del self._target[pk]
            else:
                self.lag -= end - self._indexed[pk]
                self._target[pk] = self._target.pop(pk)  # to the back: runs take turns
            self._indexed[pk] = end
        return indexed

    def catch_up(self) -> int:
        """Index everything (`runhive store rebuild`, tests)."""
        total = 0
        while self._target:
            total += self.run(budget=50_000)
        return total

    def _add_block(self, run_pk: int, data: bytes, points: list[tuple[int, OpenChunk]]) -> None:
        for rec in pb.RecordBatch.FromString(data).records:
            if rec.WhichOneof("kind") != "history":
                continue
            h = rec.history
            steps = history_steps(h)
            for name, col in history_columns(h):
                self._append(run_pk, name, steps, col, points)

    def _append(
        self, run_pk: int, name: str, steps: list[int], col: list[float], points: list[tuple[int, OpenChunk]]
    ) -> None:
        chunks = self._chunks.get(run_pk)
        if chunks is None:
            chunks = self._chunks[run_pk] = {}
        else:
            self._chunks.move_to_end(run_pk)
        oc = chunks.get(name)
        if oc is None:
            oc = chunks[name] = self._open_chunk(run_pk, name)
        i, n = 0, len(col)
        while i < n:
            room = CHUNK - len(oc.vals)
            if room <= 0:
                oc = chunks[name] = OpenChunk(oc.key_pk, oc.chunk + 1)
                room = CHUNK
            oc.add(steps[i : i + room], col[i : i + room])
            if not oc.dirty:
                oc.dirty = True
                points.append((run_pk, oc))
            i += room

    def _key_pk(self, name: str) -> int:
        pk = self._keys.get(name)
        if pk is None:
            # SQLite text is UTF-8: a name with a lone surrogate (JSON allows "\ud800") is kept escaped.
            db_name = name if name.isascii() else name.encode("utf-8", "backslashreplace").decode("utf-8")
            self.db.execute("INSERT OR IGNORE INTO metric_keys (name) VALUES (?)", (db_name,))
            pk = int(self.db.execute("SELECT pk FROM metric_keys WHERE name=?", (db_name,)).fetchone()[0])
            self._keys[name] = pk
        return pk

    def _open_chunk(self, run_pk: int, name: str) -> OpenChunk:
        """Continue the run's last chunk of `name` if it has room."""
        key_pk = self._key_pk(name)
        row = self.db.execute(
            "SELECT chunk, n, min, max, steps, vals FROM metric_chunks WHERE key_pk=? AND run_pk=?"
            " ORDER BY chunk DESC LIMIT 1",
            (key_pk, run_pk),
        ).fetchone()
        if row is None:
            return OpenChunk(key_pk, 0)
        chunk, n, lo, hi, steps, vals = row
        if n >= CHUNK:
            return OpenChunk(key_pk, chunk + 1)
        oc = OpenChunk(key_pk, chunk)
        oc.steps.frombytes(steps)
        oc.vals.frombytes(vals)
        oc.min = lo if lo is not None else math.inf
        oc.max = hi if hi is not None else -math.inf
        return oc
