"""Reading history back out of the chunk tables, for the read API (`_read`): pages of rows in step order,
sampled rows, and one metric of many runs downsampled with min/max per bucket.

A chunk holds one key's points of one run: `values` and `steps` (NULL when dense: first_step, first_step + 1, ...)
with n, vmin, vmax and vlast beside them. A zoomed-out chart of many chunks is drawn from those columns alone;
only runs with few chunks have their arrays read, so a 100k-step run costs its chunk rows, not its points.
The series rules are shared with the local store's backend (`runhive.protocol.series`): both draw the same chart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from runhive.protocol.series import EXACT, Series, empty_series, logged_as_int

from ._schema import history_chunks, history_objects

_FAR = 2**62


def _points(row: Any) -> tuple[list[int], list[float]]:
    values = list(row.values or [])
    steps = (
        list(row.steps)
        if row.steps is not None
        else list(range(row.first_step, row.first_step + len(values)))
    )
    return steps, values


def _chunk_filter(project_id: int, run_id: str, key_ids: list[int]) -> list[Any]:
    return [
        history_chunks.c.project_id == project_id,
        history_chunks.c.run_id == run_id,
        history_chunks.c.key_id.in_(key_ids),
    ]


def page(
    conn: Connection,
    project_id: int,
    run_id: str,
    keys: dict[int, str],
    low: int,
    max_step: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """At most `limit` rows with low <= step (< max_step), in step order, and the cursor of the next page (the
    last step returned) or None at the end. Reads only the chunks that can hold the page's steps."""
    ids = list(keys)
    if not ids:
        return [], None
    end = (max_step - 1) if max_step is not None else _FAR
    where = [*_chunk_filter(project_id, run_id, ids), history_chunks.c.last_step >= low]
    where.append(history_chunks.c.first_step <= end)
    metas = conn.execute(
        select(history_chunks.c.first_step, history_chunks.c.last_step, history_chunks.c.n)
        .where(*where)
        .order_by(history_chunks.c.first_step)
    ).all()
    obj_where = [
        history_objects.c.project_id == project_id,
        history_objects.c.run_id == run_id,
        history_objects.c.key_id.in_(ids),
        history_objects.c.step >= low,
        history_objects.c.step <= end,
    ]
    obj_steps = [
        r.step
        for r in conn.execute(
            select(history_objects.c.step).where(*obj_where).order_by(history_objects.c.step).limit(limit)
        )
    ]
    if not metas and not obj_steps:
        return [], None
    # The page's last step: every chunk starting at or before it is read, so every row up to it is whole.
    upper, total, points = end, 0, limit * len(ids)  # about `limit` rows when every row holds every key
    for m in metas:
        total += m.n
        if total >= points:
            upper = min(upper, m.last_step)
            break
    if len(obj_steps) >= limit:
        upper = min(upper, obj_steps[-1])
    rows: dict[int, dict[str, Any]] = {}
    chunk_rows = conn.execute(
        select(
            history_chunks.c.key_id,
            history_chunks.c.first_step,
            history_chunks.c.steps,
            history_chunks.c["values"],
        )
        .where(*where[:-1], history_chunks.c.first_step <= upper)
        .order_by(history_chunks.c.first_step, history_chunks.c.seg)
    )
    for c in chunk_rows:
        name = keys[c.key_id]
        steps, values = _points(c)
        for st, v in zip(steps, values, strict=False):
            if low <= st <= upper:
                rows.setdefault(st, {})[name] = v
    objects = conn.execute(
        select(history_objects.c.key_id, history_objects.c.step, history_objects.c.value).where(
            *obj_where[:-1], history_objects.c.step <= upper
        )
    )
    for o in objects:
        rows.setdefault(o.step, {})[keys[o.key_id]] = o.value
    ordered = sorted(rows)
    more = upper < end
    if len(ordered) > limit:
        ordered, more = ordered[:limit], True
    out = [{**rows[st], "_step": st} for st in ordered]
    return out, (ordered[-1] if more and ordered else None)


def sampled(
    conn: Connection, project_id: int, run_id: str, keys: dict[int, str], names: list[str], samples: int
) -> list[dict[str, Any]] | None:
    """`samples` rows of numeric keys `names` from the chunks; None when one of them has no chunks."""
    by_name: dict[str, tuple[list[int], list[float]]] = {n: ([], []) for n in names}
    found: set[str] = set()
    chunk_rows = conn.execute(
        select(
            history_chunks.c.key_id,
            history_chunks.c.first_step,
            history_chunks.c.steps,
            history_chunks.c["values"],
        )
        .where(*_chunk_filter(project_id, run_id, list(keys)))
        .order_by(history_chunks.c.first_step, history_chunks.c.seg)
    )
    for c in chunk_rows:
        name = keys[c.key_id]
        steps, values = _points(c)
        by_name[name][0].extend(steps)
        by_name[name][1].extend(values)
        found.add(name)
    if len(found) < len(names):
        return None
    if len(names) == 1:
        steps, values = by_name[names[0]]
        n = len(steps)
        picks = range(n) if n <= samples else (int(i * n / samples) for i in range(samples))
        return [{"_step": steps[i], names[0]: values[i]} for i in picks]
    columns = [dict(zip(*by_name[n], strict=False)) for n in names]
    common = sorted(set(columns[0]).intersection(*columns[1:]))
    if len(common) > samples:
        stride = len(common) / samples
        common = [common[int(i * stride)] for i in range(samples)]
    return [{"_step": st, **{k: c[st] for k, c in zip(names, columns, strict=False)}} for st in common]


def restore_ints(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """The chunks hold floats: a key whose summary value is an int, and whose values here are all integral and
    exact, was logged as ints and gets them back (the local store's rule)."""
    keys = {k for r in rows for k, v in r.items() if k != "_step" and type(v) is float}
    for key in keys:
        if not logged_as_int(summary, key):
            continue
        vals = [r[key] for r in rows if key in r]
        if all(type(v) is float and v.is_integer() and abs(v) < EXACT for v in vals):
            for r in rows:
                if key in r:
                    r[key] = int(r[key])


# -- one metric of many runs --------------------------------------------------------------------------------


def metric(
    conn: Connection, project_id: int, run_ids: list[str], key_id: int, buckets: int
) -> dict[str, Series]:
    """{run id: series} of one key, at most about `buckets` points per run (min, max and last of each bucket)."""
    base = [
        history_chunks.c.project_id == project_id,
        history_chunks.c.run_id.in_(run_ids),
        history_chunks.c.key_id == key_id,
    ]
    metas: dict[str, list[Any]] = {}
    for m in conn.execute(
        select(
            history_chunks.c.run_id,
            history_chunks.c.first_step,
            history_chunks.c.n,
            history_chunks.c.vmin,
            history_chunks.c.vmax,
            history_chunks.c.vlast,
        )
        .where(*base)
        .order_by(history_chunks.c.run_id, history_chunks.c.first_step, history_chunks.c.seg)
    ):
        metas.setdefault(m.run_id, []).append(m)
    out: dict[str, Series] = {}
    # Few points, or few chunks (one point a chunk would leave most of the budget unspent): read the points.
    thin = [r for r, c in metas.items() if sum(m.n for m in c) <= buckets or 2 * len(c) <= buckets]
    points: dict[str, tuple[list[int], list[float]]] = {r: ([], []) for r in thin}
    if thin:
        for c in conn.execute(
            select(
                history_chunks.c.run_id,
                history_chunks.c.first_step,
                history_chunks.c.steps,
                history_chunks.c["values"],
            )
            .where(*base[:1], history_chunks.c.run_id.in_(thin), *base[2:])
            .order_by(history_chunks.c.run_id, history_chunks.c.first_step, history_chunks.c.seg)
        ):
            steps, values = _points(c)
            points[c.run_id][0].extend(steps)
            points[c.run_id][1].extend(values)
    for run_id, chunks in metas.items():
        if run_id in points:
            steps, values = points[run_id]
            out[run_id] = _all(steps, values) if len(values) <= buckets else _bucketed(steps, values, buckets)
        else:
            out[run_id] = _grouped(chunks, buckets)
    return out


def _all(steps: list[int], values: list[float]) -> Series:
    out = empty_series()
    for st, v in zip(steps, values, strict=False):
        value = v if v == v else None
        out["step"].append(st)
        out["min"].append(value)
        out["max"].append(value)
        out["last"].append(value)
    return out


def _bucketed(steps: list[int], values: list[float], buckets: int) -> Series:
    """Every point in at most `buckets` equal buckets: first step, min and max (NaN is a point but not a min or
    max) and last value of each."""
    size = -(-len(values) // buckets)
    out = empty_series()
    for i in range(0, len(values), size):
        part = [v for v in values[i : i + size] if v == v]
        last = values[min(i + size, len(values)) - 1]
        out["step"].append(steps[i])
        out["min"].append(min(part) if part else None)
        out["max"].append(max(part) if part else None)
        out["last"].append(last if last == last else None)
    return out


def _grouped(chunks: list[Any], buckets: int) -> Series:
    """From the chunk rows alone: consecutive chunks grouped into at most `buckets` points."""
    out = empty_series()
    group = -(-len(chunks) // buckets)
    for i in range(0, len(chunks), group):
        part = chunks[i : i + group]
        mins = [c.vmin for c in part if c.vmin is not None and c.vmin == c.vmin]
        maxs = [c.vmax for c in part if c.vmax is not None and c.vmax == c.vmax]
        out["step"].append(part[0].first_step)
        out["min"].append(min(mins) if mins else None)
        out["max"].append(max(maxs) if maxs else None)
        out["last"].append(part[-1].vlast)
    return out
