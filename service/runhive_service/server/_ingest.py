"""Ingest: the daemons' uploaders send each run's committed records here (`runhive_service.daemon._uploader`).

A stream is (run, writer); its records carry the writer's sequence numbers, as in the daemon's WAL.

    POST /api/v1/streams/{entity}/{project}/{run_id}            open the run: 200 {"marks": {writer: seq}, ...}
    POST /api/v1/streams/{entity}/{project}/{run_id}/{writer}?prev=N
         body: one serialized `runhive.v1.RecordBatch` (application/x-protobuf), as framed in the WAL

Opening checks the caller's write permission (creating the project, private, when the caller may: their own
entity, or a team where they are member/admin) and creates the run; it answers the high-water mark of every
stream of the run. A batch is applied and its stream's mark advanced in ONE transaction (the run row is locked, so
writers of one run queue on any replica): records at or below the mark are skipped (a batch wholly at or below
it answers 200 with the mark: a lost reply must not wedge the stream), an overlap applies only its tail. `prev` is
the seq of the writer's record before the batch in the uploader's WAL (0: none); `prev` above the mark is a gap:
409 `{"code": "GAP", "seq": mark}`, and the uploader rewinds. Records are applied to the run's state with the same
pure code the daemon uses (`runhive_service.streams.apply_groups`); history goes to `history_chunks` (one row per
key and batch), non-numeric values to `history_objects`, per-key aggregates to `run_keys`.

    POST /api/v1/system/{entity}/{project}/{run_id}/{node}
         body {"samples": [[ts, runtime, {key: value}], ...]} (JSON): system-metrics samples of the run, as the
         node `node` sampled them (`_sysmon`, through the node's local store) → {"stored": n}

Samples need the same write permission as records; each is one `system_metrics` row keyed (run, node, ts), so a
replay stores nothing twice (`stored` counts the new ones). A run deleted on the server (`_delete`, a tombstone in
`deleted_runs`) is never created again: opening it, a batch, samples and files all answer 410 `RUN_DELETED`,
which the uploader reports and does not retry.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Row, select, update
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runhive.protocol.metrics import Aggregator
from runhive.protocol.rows import decode_rows, history_steps
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.streams import (
    CRASHED,
    PREEMPTED,
    RUNNING,
    RunState,
    WriterState,
    apply_groups,
    run_key,
)

from ._errors import InvalidArgument, ServerError
from ._history import intern_keys
from ._schema import history_chunks, history_objects, run_keys, runs, stream_marks
from ._schema_system import deleted_runs, system_metrics
from ._store import Project, ServerStore, User, insert_ignore

MAX_BATCH_BYTES = 64 * 1024 * 1024
MAX_SAMPLES = 10_000  # system-metrics samples in one request
_ID_MAX = 128
_NODE_MAX = 64


class Gap(ServerError):
    status = 409
    code = "GAP"


class RunDeleted(ServerError):
    """The run was deleted on the server: final for every upload of it (its id is not used again)."""

    status = 410
    code = "RUN_DELETED"


def _caller(request: Request) -> tuple[ServerStore, User]:
    store: ServerStore = request.app.state.store
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = value.strip() if scheme.lower() == "bearer" else None
    return store, store.authenticate(key or None)


def _ids(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    entity, project, run_id = p["entity"], p["project"], p["run_id"]
    if not run_id or len(run_id) > _ID_MAX or "/" in run_id:
        raise InvalidArgument(f"run id {run_id!r} is not valid: 1 to {_ID_MAX} characters, no '/'")
    return entity, project, run_id


def _ensure_run(conn: Connection, project: Project, run_id: str, user: User) -> None:
    """Create the run's row when it is new, inside the caller's transaction; RunDeleted for a deleted run.

    The tombstone is read AFTER the insert: on PostgreSQL an insert that meets the row a concurrent delete is
    removing waits for that delete to commit, and the next statement (read committed) then sees its tombstone, so
    the row this insert may have created is rolled back with the refusal instead of bringing the run back."""
    now = time.time()
    insert_ignore(
        conn,
        runs,
        {
            "project_id": project.id,
            "run_id": run_id,
            "created_by": user.id,
            "created_at": now,
            "updated_at": now,
            "tags": [],
            "config": {},
            "summary": {},
            "metadata": {},
        },
    )
    _refuse_deleted(conn, project, run_id)


def _refuse_deleted(conn: Connection, project: Project, run_id: str) -> None:
    deleted_at = conn.execute(
        select(deleted_runs.c.deleted_at).where(
            deleted_runs.c.project_id == project.id, deleted_runs.c.run_id == run_id
        )
    ).scalar()
    if deleted_at is not None:
        when = datetime.fromtimestamp(float(deleted_at), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        raise RunDeleted(
            f"run '{project.entity}/{project.name}/{run_id}' was deleted on the server at {when}; what was "
            "still being uploaded of it is refused, and its id cannot be used again: start a new run (another id)"
        )


def _lock_run(conn: Connection, project: Project, run_id: str, user: User) -> Row[Any]:
    """The run's row (created when new), locked until the caller's transaction ends: the writers of one run
    queue here on any replica (PostgreSQL's FOR UPDATE; SQLite's BEGIN IMMEDIATE already serialises), and a
    delete waits for them or they for it."""
    _ensure_run(conn, project, run_id, user)
    row = conn.execute(
        select(runs).where(runs.c.project_id == project.id, runs.c.run_id == run_id).with_for_update()
    ).first()
    if row is None:  # deleted between the insert and the lock: its tombstone is committed by now
        _refuse_deleted(conn, project, run_id)
        raise ServerError(
            f"run '{project.entity}/{project.name}/{run_id}' vanished while being written; retry"
        )
    return row


def _marks(conn: Connection, project_id: int, run_id: str) -> dict[str, int]:
    rows = conn.execute(
        select(stream_marks.c.writer, stream_marks.c.seq).where(
            stream_marks.c.project_id == project_id, stream_marks.c.run_id == run_id
        )
    )
    return {r.writer: int(r.seq) for r in rows}


def open_stream(request: Request) -> Response:
    """Check write permission, create the project (private) and the run if needed; answer the run's marks."""
    store, user = _caller(request)
    entity, project_name, run_id = _ids(request)
    project = store.ensure_project(user, entity, project_name)
    with store.engine.begin() as conn:
        _ensure_run(conn, project, run_id, user)
        marks = _marks(conn, project.id, run_id)
    return JSONResponse(
        {
            "entity": entity,
            "project": project_name,
            "run_id": run_id,
            "user": user.name,
            "permission": "write",
            "marks": marks,
        }
    )


async def append(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise InvalidArgument(f"batch of {len(body)} bytes is over the limit of {MAX_BATCH_BYTES}")
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_append, request, body)


def _append(request: Request, body: bytes) -> Response:
    store, user = _caller(request)
    entity, project_name, run_id = _ids(request)
    writer = request.path_params["writer"]
    try:
        prev = int(request.query_params.get("prev", "0"))
    except ValueError:
        raise InvalidArgument("prev must be an integer (the seq before the batch, 0 for none)") from None
    group = pb.RecordBatch()
    try:
        group.ParseFromString(body)
    except Exception:
        raise InvalidArgument("the body is not a serialized runhive.v1.RecordBatch") from None
    if group.writer and group.writer != writer:
        raise InvalidArgument(f"the batch is of writer {group.writer!r}, the URL names {writer!r}")
    project = store.ensure_project(user, entity, project_name)
    with store.engine.begin() as conn:
        mark, applied = apply_batch(conn, project, run_id, writer, prev, group, user)
    return JSONResponse({"seq": mark, "applied": applied})


def apply_batch(
    conn: Connection, project: Project, run_id: str, writer: str, prev: int, group: pb.RecordBatch, user: User
) -> tuple[int, int]:
    """Apply the records of `group` above the stream's mark, inside the caller's transaction; (mark, applied)."""
    row = _lock_run(conn, project, run_id, user)
    marks = _marks(conn, project.id, run_id)
    mark = marks.get(writer)
    if prev > (mark or 0):
        raise Gap(f"stream {writer!r} of run {run_id!r} is at seq {mark or 0}; the batch follows seq {prev}")
    todo = [r for r in group.records if r.seq > (mark or 0)]
    if not todo:
        return mark or 0, 0
    st = _state(row, project, run_id)
    batch = pb.RecordBatch(run_id=st.key, writer=writer)
    batch.records.extend(todo)
    first_row = st.rows
    for rec in todo:
        if rec.WhichOneof("kind") == "run":  # the daemon's run record: identity as the client set it
            _take_info(st.info, rec.run)
    apply_groups([(st, batch, 0, None)])
    media = _media_prefix(st.info.run_dir)
    _store_history(conn, project.id, run_id, _writer_seg(marks, writer), first_row, batch, media)
    _save_state(conn, project.id, run_id, st)
    top = max(r.seq for r in todo)
    now = time.time()
    if mark is None:
        conn.execute(
            stream_marks.insert().values(
                project_id=project.id, run_id=run_id, writer=writer, seg=len(marks), seq=top, updated_at=now
            )
        )
    else:
        conn.execute(
            update(stream_marks)
            .where(
                stream_marks.c.project_id == project.id,
                stream_marks.c.run_id == run_id,
                stream_marks.c.writer == writer,
            )
            .values(seq=top, updated_at=now)
        )
    return top, len(todo)


def _take_info(info: pb.RunInfo, run: pb.RunInfo) -> None:
    for name in ("name", "notes", "group", "job_type", "host", "sweep_id", "run_dir"):
        if getattr(run, name):
            setattr(info, name, getattr(run, name))
    if run.tags:
        del info.tags[:]
        info.tags.extend(run.tags)
    if run.metadata_json and info.metadata_json in (b"", b"{}"):
        info.metadata_json = run.metadata_json


def _writer_seg(marks: dict[str, int], writer: str) -> int:
    return sorted(marks).index(writer) if writer in marks else len(marks)


def _state(row: Any, project: Project, run_id: str) -> RunState:
    info = pb.RunInfo(
        id=run_id,
        entity=project.entity,
        project=project.name,
        name=row.name,
        notes=row.notes,
        tags=list(row.tags or []),
        group=row.group,
        job_type=row.job_type,
        host=row.host,
        sweep_id=row.sweep_id or "",
        metadata_json=json.dumps(row.metadata or {}).encode(),
        run_dir=str((row.metadata or {}).get("dir") or ""),  # kept there by _save_state
    )
    st = RunState(key=run_key(project.entity, project.name, run_id), info=info)
    st.state, st.exit_code = row.state, row.exit_code
    st.config, st.summary = dict(row.config or {}), dict(row.summary or {})
    st.last_step, st.rows = int(row.last_step), int(row.history_rows)
    ingest = row.ingest or {}
    for name, w in (ingest.get("writers") or {}).items():
        st.writers[name] = WriterState(
            open=bool(w.get("open", True)), exit_code=w.get("exit_code"), crashed=bool(w.get("crashed"))
        )
    if isinstance(ingest.get("aggregator"), dict):  # ("agg", a pickle of earlier builds, is not read back)
        st.agg = Aggregator.from_state(ingest["aggregator"])
    if timed_out(st.state, ingest):  # its node was silent for a while (`_liveness`), and is back
        st.state, st.exit_code = RUNNING, None
    return st


def timed_out(state: str, ingest: Any) -> bool:
    """Whether a run in `state` was ended by the server's `_liveness` (its node went silent), not by its node:
    a crash the node saw closes the writer; here some writer is still open."""
    if state not in (CRASHED, PREEMPTED) or not isinstance(ingest, dict):
        return False
    return any(bool(w.get("open", True)) for w in (ingest.get("writers") or {}).values())


def _save_state(conn: Connection, project_id: int, run_id: str, st: RunState) -> None:
    info = st.info
    try:
        metadata = json.loads(info.metadata_json or b"{}")
    except ValueError:
        metadata = {}
    if isinstance(metadata, dict) and info.run_dir:
        metadata["dir"] = info.run_dir  # the run directory on its node (the read API's `Run.dir`)
    ingest = {
        "writers": {
            n: {"open": w.open, "exit_code": w.exit_code, "crashed": w.crashed} for n, w in st.writers.items()
        },
        "aggregator": st.agg.to_state() if st.agg else None,
    }
    conn.execute(
        update(runs)
        .where(runs.c.project_id == project_id, runs.c.run_id == run_id)
        .values(
            name=info.name,
            notes=info.notes,
            tags=list(info.tags),
            group=info.group,
            job_type=info.job_type,
            host=info.host,
            sweep_id=info.sweep_id or None,
            metadata=metadata if isinstance(metadata, dict) else {},
            state=st.state,
            exit_code=st.exit_code,
            config=_jsonable(st.config),
            summary=_relative_media(_jsonable(st.summary), _media_prefix(info.run_dir)),
            last_step=st.last_step,
            history_rows=st.rows,
            updated_at=time.time(),
            heartbeat_at=time.time(),
            ingest=ingest,
        )
    )


def _jsonable(value: Any) -> Any:
    """NaN and ±Inf as strings (PostgreSQL's JSONB has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _media_prefix(run_dir: str) -> str:
    return run_dir.rstrip("/") + "/files/" if run_dir else ""


def _relative_media(value: Any, prefix: str) -> Any:
    """Media references (`{"_type": "image-file", "path": ...}`) name their file on the node that logged them
    (`<run dir>/files/media/...`); on the server they name it as the run's file (`media/...`), which the uploader
    sends there, so `run.file(row["img"]["path"])` finds it, as in W&B."""
    if not prefix:
        return value
    if isinstance(value, dict):
        out = {k: _relative_media(v, prefix) for k, v in value.items()}
        path = out.get("path")
        if "_type" in out and isinstance(path, str) and path.startswith(prefix):
            out["path"] = path[len(prefix) :]
        return out
    if isinstance(value, list):
        return [_relative_media(v, prefix) for v in value]
    return value


def _store_history(
    conn: Connection,
    project_id: int,
    run_id: str,
    seg: int,
    first_row: int,
    batch: pb.RecordBatch,
    media: str = "",
) -> None:
    """One `history_chunks` row per numeric key of the batch, `history_objects` for the rest, `run_keys`."""
    numbers: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    objects: dict[str, dict[int, Any]] = defaultdict(dict)
    for rec in batch.records:
        if rec.WhichOneof("kind") != "history":
            continue
        h = rec.history
        for step, row in zip(history_steps(h), decode_rows(h), strict=False):
            for key, value in row.items():
                if value is None:
                    continue  # a key logged without a value: nothing to store
                if isinstance(value, bool):
                    objects[key][step] = value
                elif isinstance(value, (int, float)):
                    steps, vals = numbers[key]
                    steps.append(step)
                    vals.append(float(value))
                else:
                    objects[key][step] = _relative_media(_jsonable(value), media)
    if not numbers and not objects:
        return
    ids = intern_keys(conn, project_id, [*numbers, *objects])
    for key, (steps, vals) in numbers.items():
        key_id = ids[key]
        _put_chunk(conn, project_id, run_id, key_id, seg, steps, vals)
        _run_key(conn, project_id, run_id, key_id, steps, vals)
    for key, by_step in objects.items():
        for step, value in by_step.items():
            _upsert_object(conn, project_id, run_id, ids[key], step, value)
        _run_key(conn, project_id, run_id, ids[key], list(by_step), [])


def _summary_of(vals: list[float]) -> tuple[float | None, float | None]:
    finite = [v for v in vals if not math.isnan(v)]
    return (min(finite), max(finite)) if finite else (None, None)


def _put_chunk(
    conn: Connection, project_id: int, run_id: str, key_id: int, seg: int, steps: list[int], vals: list[float]
) -> None:
    key = (
        history_chunks.c.project_id == project_id,
        history_chunks.c.run_id == run_id,
        history_chunks.c.key_id == key_id,
        history_chunks.c.seg == seg,
        history_chunks.c.first_step == steps[0],
    )
    old = conn.execute(
        select(history_chunks.c.steps, history_chunks.c["values"], history_chunks.c.n).where(*key)
    ).first()
    if old is not None:  # a step logged again at a chunk's first step: extend that chunk (never lose a row)
        old_steps = list(old.steps) if old.steps is not None else list(range(steps[0], steps[0] + old.n))
        steps, vals = old_steps + steps, list(old._mapping["values"]) + vals
    dense = all(b - a == 1 for a, b in itertools.pairwise(steps))
    vmin, vmax = _summary_of(vals)
    values = {
        "last_step": max(steps),
        "n": len(vals),
        "steps": None if dense else steps,
        "values": vals,
        "vmin": vmin,
        "vmax": vmax,
        "vfirst": vals[0],
        "vlast": vals[-1],
    }
    if old is None:
        conn.execute(
            history_chunks.insert().values(
                project_id=project_id, run_id=run_id, key_id=key_id, seg=seg, first_step=steps[0], **values
            )
        )
    else:
        conn.execute(update(history_chunks).where(*key).values(**values))


def _upsert_object(
    conn: Connection, project_id: int, run_id: str, key_id: int, step: int, value: Any
) -> None:
    key = (
        history_objects.c.project_id == project_id,
        history_objects.c.run_id == run_id,
        history_objects.c.key_id == key_id,
        history_objects.c.step == step,
    )
    if conn.execute(select(history_objects.c.step).where(*key)).first() is None:
        conn.execute(
            history_objects.insert().values(
                project_id=project_id, run_id=run_id, key_id=key_id, step=step, value=value
            )
        )
    else:
        conn.execute(update(history_objects).where(*key).values(value=value))


def _run_key(
    conn: Connection, project_id: int, run_id: str, key_id: int, steps: list[int], vals: list[float]
) -> None:
    key = (run_keys.c.project_id == project_id, run_keys.c.run_id == run_id, run_keys.c.key_id == key_id)
    old = conn.execute(select(run_keys).where(*key)).first()
    vmin, vmax = _summary_of(vals)
    if old is not None:
        if old.vmin is not None:
            vmin = old.vmin if vmin is None else min(vmin, old.vmin)
        if old.vmax is not None:
            vmax = old.vmax if vmax is None else max(vmax, old.vmax)
    values = {
        "n": (old.n if old is not None else 0) + len(steps),
        "first_step": min(steps) if old is None or old.first_step is None else min(old.first_step, *steps),
        "last_step": max(steps) if old is None or old.last_step is None else max(old.last_step, *steps),
        "vmin": vmin,
        "vmax": vmax,
        "vlast": vals[-1] if vals else (old.vlast if old is not None else None),
    }
    if old is None:
        conn.execute(run_keys.insert().values(project_id=project_id, run_id=run_id, key_id=key_id, **values))
    else:
        conn.execute(update(run_keys).where(*key).values(**values))


async def system_samples(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_BATCH_BYTES:
        raise InvalidArgument(f"body of {len(body)} bytes is over the limit of {MAX_BATCH_BYTES}")
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_system_samples, request, body)


def _parse_samples(body: bytes) -> list[dict[str, Any]]:
    shape = 'the body is JSON {"samples": [[ts, runtime, {key: value}], ...]}'
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise InvalidArgument(f"{shape}; it is not JSON") from None
    samples = doc.get("samples") if isinstance(doc, dict) else None
    if not isinstance(samples, list):
        raise InvalidArgument(shape)
    if len(samples) > MAX_SAMPLES:
        raise InvalidArgument(f"{len(samples)} samples in one request; send at most {MAX_SAMPLES} at a time")
    out = []
    for s in samples:
        ok = isinstance(s, list) and len(s) == 3 and isinstance(s[2], dict)
        if ok and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in s[:2]):
            ts, runtime = float(s[0]), float(s[1])
            ok = math.isfinite(ts) and math.isfinite(runtime)
        if not ok:
            raise InvalidArgument(
                f"sample {str(s)[:200]} is not [ts, runtime, {{key: value}}] with finite numbers"
            )
        out.append({"ts": ts, "runtime": runtime, "data": _jsonable(s[2])})
    return out


def _system_samples(request: Request, body: bytes) -> Response:
    store, user = _caller(request)
    entity, project_name, run_id = _ids(request)
    node = request.path_params["node"]
    if not node or len(node) > _NODE_MAX or "/" in node:
        raise InvalidArgument(f"node {node!r} is not valid: 1 to {_NODE_MAX} characters, no '/'")
    samples = _parse_samples(body)
    project = store.ensure_project(user, entity, project_name)  # write permission, as for records
    stored = 0
    with store.engine.begin() as conn:
        _lock_run(conn, project, run_id, user)
        have = set(
            conn.execute(
                select(system_metrics.c.ts).where(
                    system_metrics.c.project_id == project.id,
                    system_metrics.c.run_id == run_id,
                    system_metrics.c.node == node,
                    system_metrics.c.ts.in_({s["ts"] for s in samples}),
                )
            ).scalars()
        )
        # The run row is locked: no other request adds samples of this run meanwhile, so what is not there yet
        # is inserted plainly (a sample repeated within the request once).
        new = {s["ts"]: s for s in samples if s["ts"] not in have}
        rows = [{"project_id": project.id, "run_id": run_id, "node": node, **s} for s in new.values()]
        for i in range(0, len(rows), 1000):
            conn.execute(system_metrics.insert(), rows[i : i + 1000])
        stored = len(rows)
    return JSONResponse({"stored": stored})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/streams/{entity}/{project}/{run_id}", open_stream, methods=["POST"]),
        Route("/api/v1/streams/{entity}/{project}/{run_id}/{writer}", append, methods=["POST"]),
        Route("/api/v1/system/{entity}/{project}/{run_id}/{node}", system_samples, methods=["POST"]),
    ]
