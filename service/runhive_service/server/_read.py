"""The team server's read API: what `runhive.Api()` asks of a store (the `Backend` protocol of
`runhive.apis.backends`), as JSON over HTTP, for the client's `ServerBackend`.

Every endpoint authenticates the caller (`Authorization: Bearer KEY`; 401 without one) and checks read permission
with `ServerStore.require` when the request names an entity and a project (403/404 naming the user, the project
and the fix). A request that leaves the entity or project open (`Api().run("id")`, `Api().projects()`) covers only
the projects the caller may read. A project that does not exist yet reads as empty, as the local store does.

Routes (all `GET` except `metrics`, which takes many runs in a JSON body):
  /api/v1/projects?entity=                       → {"projects": [{entity, name, runs, last_run_at}]}
  /api/v1/runs?entity=&project=&order=&since=    → {"runs": [run]}
  /api/v1/runs?...&limit=&offset=                → {"runs": [run], "total": n}  (a page; n: every match)
  /api/v1/runs/find?run_id=&entity=&project=     → {"runs": [run]}
  /api/v1/history?entity=&project=&run_id=&keys=&min_step=&max_step=&after=&limit=
                                                 → {"rows": [...], "next": step | null}  (a page, in step order)
  /api/v1/history/sampled?...&keys=&samples=     → {"rows": [...] | null}
  /api/v1/system?entity=&project=&run_id=        → {"rows": [[ts, runtime, sample]]}
  POST /api/v1/metrics {key, buckets, runs: [[entity, project, run_id]]} → {"series": {run_id: series}}
  /api/v1/sweeps?entity=&project=                → {"sweeps": [sweep]}
  /api/v1/sweeps/find?sweep_id=&entity=&project= → {"sweeps": [sweep]}
  /api/v1/sweeps/runs?entity=&project=&sweep_id= → {"runs": [run]}
  POST /api/v1/runs/delete {entity, project, run_id, delete_artifacts} → {"deleted": "entity/project/run_id"}
                                                 (write permission; `_delete`)
Numbers keep NaN and ±Infinity (JSON as Python writes it). History values come from the chunk tables; values of
keys logged as ints come back as ints (the run's summary says which keys are ints, as in the local store).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import _series
from ._errors import InvalidArgument, NotFound
from ._perms import OWNER, Facts, denial
from ._schema import entities, memberships, metric_keys, projects, runs, sweeps
from ._store import Project, ServerStore, User

MAX_PAGE = 10_000  # rows per history page
MAX_BUCKETS = 100_000
MAX_RUNS = 5_000  # runs in one metrics request
MAX_RUN_PAGE = 10_000  # runs in one page of /api/v1/runs


# -- plumbing --------------------------------------------------------------------------------------------------


def _json(doc: Any) -> Response:
    """JSON that keeps NaN and ±Infinity (Starlette's JSONResponse refuses them)."""
    return Response(json.dumps(doc, allow_nan=True, separators=(",", ":")), media_type="application/json")


def _store(request: Request) -> ServerStore:
    store: ServerStore = request.app.state.store
    return store


def _caller(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    return _store(request).authenticate(key)


def _arg(request: Request, name: str, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if value in (None, "") and required:
        raise InvalidArgument(f"the parameter {name!r} is missing")
    return value or None


def _int_arg(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"the parameter {name!r} must be an integer, got {value!r}") from None


def _float_arg(request: Request, name: str) -> float | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidArgument(f"the parameter {name!r} must be a number, got {value!r}") from None


# -- which projects a request covers ----------------------------------------------------------------------------


def readable(
    conn: Connection, user: User, entity: str | None = None, name: str | None = None
) -> list[Project]:
    """The projects `user` may read, optionally of one entity and/or with one name."""
    query = select(
        projects.c.id,
        projects.c.name,
        projects.c.visibility,
        entities.c.id.label("eid"),
        entities.c.name.label("ename"),
        entities.c.kind,
    ).join(entities, entities.c.id == projects.c.entity_id)
    if entity is not None:
        query = query.where(entities.c.name == entity)
    if name is not None:
        query = query.where(projects.c.name == name)
    roles = dict(
        conn.execute(
            select(memberships.c.entity_id, memberships.c.role).where(memberships.c.user_id == user.id)
        ).all()
    )
    out: list[Project] = []
    for r in conn.execute(query.order_by(entities.c.name, projects.c.name)):
        role = (OWNER if r.eid == user.entity_id else None) if r.kind == "user" else roles.get(r.eid)
        facts = Facts(user.name, user.is_admin, r.ename, r.kind, role, r.name, r.visibility)
        if denial("read", facts) is None:
            out.append(Project(r.id, r.ename, r.name, r.visibility))
    return out


def scope(store: ServerStore, user: User, entity: str | None, project: str | None) -> list[Project]:
    """The projects a request reads. Entity and project named: that one, after the permission check (raises);
    none when it does not exist yet. Otherwise the readable projects that match (an unknown entity raises)."""
    if entity is not None and project is not None:
        store.require(user, entity, project, "read")
        found = store.project(entity, project)
        return [found] if found is not None else []
    if entity is not None:
        store.entity(entity)  # NotFound names an entity that does not exist
    with store.engine.connect() as conn:
        return readable(conn, user, entity, project)


def _one_run(store: ServerStore, user: User, request: Request) -> tuple[Project, Any]:
    entity = _arg(request, "entity", required=True)
    project = _arg(request, "project", required=True)
    run_id = _arg(request, "run_id", required=True)
    assert entity is not None and project is not None and run_id is not None
    found = scope(store, user, entity, project)
    if found:
        with store.engine.connect() as conn:
            row = conn.execute(
                select(runs).where(runs.c.project_id == found[0].id, runs.c.run_id == run_id)
            ).first()
        if row is not None:
            return found[0], row
    raise NotFound(f"run '{entity}/{project}/{run_id}' does not exist on this server")


# -- records ----------------------------------------------------------------------------------------------------


def run_doc(row: Any, project: Project) -> dict[str, Any]:
    """A run as the client's `RunRecord` (without its handle). `dir` is the run's directory on the node that
    logged it, when the uploader recorded one in the metadata."""
    m = row._mapping
    metadata = m["metadata"] or {}
    return {
        "id": m["run_id"],
        "entity": project.entity,
        "project": project.name,
        "name": m["name"],
        "notes": m["notes"],
        "tags": list(m["tags"] or []),
        "group": m["group"],
        "job_type": m["job_type"],
        "state": m["state"],
        "exit_code": m["exit_code"],
        "config": m["config"] or {},
        "summary": m["summary"] or {},
        "metadata": metadata,
        "dir": str(metadata.get("dir") or "") if isinstance(metadata, dict) else "",
        "created_at": m["created_at"],
        "updated_at": m["updated_at"],
        "last_step": m["last_step"],
        "history_rows": m["history_rows"],
        "sweep": m["sweep_id"] or "",
    }


def _sweep_doc(row: Any, project: Project) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["sweep_id"],
        "entity": project.entity,
        "project": project.name,
        "name": m["name"],
        "config": m["config"] or {},
        "state": m["state"],
        "created_at": m["created_at"],
    }


def _runs_of(
    conn: Connection,
    found: list[Project],
    *where: Any,
    newest_first: bool = False,
    limit: int | None = None,
    offset: int = 0,
) -> list[Any]:
    by_id = {p.id: p for p in found}
    if not by_id:
        return []
    order = (
        (runs.c.created_at.desc(), runs.c.run_id.desc())
        if newest_first
        else (runs.c.created_at, runs.c.run_id)
    )
    query = select(runs).where(runs.c.project_id.in_(list(by_id)), *where).order_by(*order)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [run_doc(r, by_id[r.project_id]) for r in conn.execute(query)]


# -- endpoints: projects, runs, sweeps ------------------------------------------------------------------------


def list_projects(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    found = scope(store, user, _arg(request, "entity"), None)
    counts: dict[int, tuple[int, float | None]] = {}
    if found:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(runs.c.project_id, func.count(), func.max(runs.c.created_at))
                .where(runs.c.project_id.in_([p.id for p in found]))
                .group_by(runs.c.project_id)
            ).all()
        counts = {pid: (n, last) for pid, n, last in rows}
    # Most recent run first, as the local store lists them; projects without runs yet come last.
    order = sorted(found, key=lambda p: -(counts.get(p.id, (0, None))[1] or float("-inf")))
    docs = [
        {
            "entity": p.entity,
            "name": p.name,
            "runs": counts.get(p.id, (0, None))[0],
            "last_run_at": counts.get(p.id, (0, None))[1],
        }
        for p in order
    ]
    return _json({"projects": docs})


def list_runs(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    found = scope(store, user, _arg(request, "entity"), _arg(request, "project", required=True))
    since = _float_arg(request, "since")
    where = [runs.c.updated_at >= since] if since is not None else []
    newest_first = since is None and _arg(request, "order") == "desc"
    limit, offset = _int_arg(request, "limit"), _int_arg(request, "offset", 0) or 0
    if limit is not None and (limit < 0 or limit > MAX_RUN_PAGE or offset < 0):
        raise InvalidArgument(
            f"limit must be 0..{MAX_RUN_PAGE} and offset at least 0, got limit={limit}, offset={offset}"
        )
    with store.engine.connect() as conn:
        page = _runs_of(conn, found, *where, newest_first=newest_first, limit=limit, offset=offset)
        if limit is None:
            return _json({"runs": page})
        total = 0
        if found:
            total = conn.execute(
                select(func.count())
                .select_from(runs)
                .where(runs.c.project_id.in_([p.id for p in found]), *where)
            ).scalar_one()
        return _json({"runs": page, "total": total})


def find_runs(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    run_id = _arg(request, "run_id", required=True)
    found = scope(store, user, _arg(request, "entity"), _arg(request, "project"))
    with store.engine.connect() as conn:
        return _json({"runs": _runs_of(conn, found, runs.c.run_id == run_id)})


def list_sweeps(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    found = scope(store, user, _arg(request, "entity"), _arg(request, "project", required=True))
    return _json({"sweeps": _sweeps_of(store, found)})


def find_sweeps(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    sweep_id = _arg(request, "sweep_id", required=True)
    found = scope(store, user, _arg(request, "entity"), _arg(request, "project"))
    return _json({"sweeps": _sweeps_of(store, found, sweeps.c.sweep_id == sweep_id)})


def _sweeps_of(store: ServerStore, found: list[Project], *where: Any) -> list[dict[str, Any]]:
    by_id = {p.id: p for p in found}
    if not by_id:
        return []
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(sweeps)
            .where(sweeps.c.project_id.in_(list(by_id)), *where)
            .order_by(sweeps.c.created_at, sweeps.c.sweep_id)
        )
        return [_sweep_doc(r, by_id[r.project_id]) for r in rows]


def sweep_runs(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    entity = _arg(request, "entity", required=True)
    project = _arg(request, "project", required=True)
    sweep_id = _arg(request, "sweep_id", required=True)
    found = scope(store, user, entity, project)
    with store.engine.connect() as conn:
        return _json({"runs": _runs_of(conn, found, runs.c.sweep_id == sweep_id)})


# -- endpoints: history and metrics -----------------------------------------------------------------------------


def _key_ids(conn: Connection, project_id: int, keys: Iterable[str] | None) -> dict[int, str]:
    query = select(metric_keys.c.key_id, metric_keys.c.key).where(metric_keys.c.project_id == project_id)
    if keys is not None:
        query = query.where(metric_keys.c.key.in_(list(keys)))
    return {r.key_id: r.key for r in conn.execute(query)}


def history(request: Request) -> Response:
    """A page of history rows in step order: at most `limit` rows with steps after `after`; `next` is the cursor
    for the following page (None at the end)."""
    store, user = _store(request), _caller(request)
    project, run = _one_run(store, user, request)
    keys = [k for k in request.query_params.getlist("keys") if k] or None
    min_step, max_step = _int_arg(request, "min_step"), _int_arg(request, "max_step")
    after = _int_arg(request, "after")
    limit = max(1, min(MAX_PAGE, _int_arg(request, "limit", 1000) or 1000))
    low = max(min_step if min_step is not None else -(2**62), (after + 1) if after is not None else -(2**62))
    with store.engine.connect() as conn:
        ids = _key_ids(conn, project.id, keys)
        if keys is not None and len(ids) < len(set(keys)):
            return _json({"rows": [], "next": None})  # a key never logged: no row has every key
        rows, more = _series.page(conn, project.id, run.run_id, ids, low, max_step, limit)
    summary = run._mapping["summary"] or {}
    _series.restore_ints(rows, summary)
    if keys is not None:
        rows = [{k: r[k] for k in ("_step", *keys) if k in r} for r in rows if all(k in r for k in keys)]
    return _json({"rows": rows, "next": more})


def sampled_history(request: Request) -> Response:
    store, user = _store(request), _caller(request)
    project, run = _one_run(store, user, request)
    keys = [k for k in request.query_params.getlist("keys") if k]
    samples = max(1, _int_arg(request, "samples", 500) or 500)
    if not keys:
        raise InvalidArgument("the parameter 'keys' is missing")
    with store.engine.connect() as conn:
        ids = _key_ids(conn, project.id, keys)
        rows = (
            _series.sampled(conn, project.id, run.run_id, ids, keys, samples)
            if len(ids) == len(set(keys))
            else None
        )
    if rows is not None:
        _series.restore_ints(rows, run._mapping["summary"] or {})
    return _json({"rows": rows})


def system(request: Request) -> Response:
    """The run's system-metrics samples (`system_metrics`, sent by the uploaders of the nodes that ran it) in time
    order, as the local store answers them."""
    from ._schema_system import system_metrics as sm

    store, user = _store(request), _caller(request)
    project, run = _one_run(store, user, request)
    with store.engine.connect() as conn:
        found = conn.execute(
            select(sm.c.ts, sm.c.runtime, sm.c.data)
            .where(sm.c.project_id == project.id, sm.c.run_id == run.run_id)
            .order_by(sm.c.ts, sm.c.node)
        )
        rows = [[r.ts, r.runtime, r.data] for r in found]
    return _json({"rows": rows})


async def metrics(request: Request) -> Response:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise InvalidArgument(
            "the body must be JSON: {key, buckets, runs: [[entity, project, run_id]]}"
        ) from None
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_metrics, request, body)


def _metrics(request: Request, body: Any) -> Response:
    store, user = _store(request), _caller(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("key"), str)
        or not isinstance(body.get("runs"), list)
    ):
        raise InvalidArgument("the body must be JSON: {key, buckets, runs: [[entity, project, run_id]]}")
    key: str = body["key"]
    try:
        buckets = max(1, min(MAX_BUCKETS, int(body.get("buckets") or 1000)))
        wanted = [(str(e), str(p), str(r)) for e, p, r in body["runs"]]
    except (TypeError, ValueError):
        raise InvalidArgument(
            "runs must be [[entity, project, run_id], ...] and buckets an integer"
        ) from None
    if len(wanted) > MAX_RUNS:
        raise InvalidArgument(f"at most {MAX_RUNS} runs in one metrics request, got {len(wanted)}")
    by_project: dict[tuple[str, str], list[str]] = {}
    for entity, project, run_id in wanted:
        by_project.setdefault((entity, project), []).append(run_id)
    out: dict[str, Any] = {}
    for (entity, project), run_ids in by_project.items():
        found = scope(store, user, entity, project)
        if not found:
            continue
        with store.engine.connect() as conn:
            ids = _key_ids(conn, found[0].id, [key])
            if not ids:
                continue
            out.update(_series.metric(conn, found[0].id, run_ids, next(iter(ids)), buckets))
    return _json({"series": out})


async def delete_run(request: Request) -> Response:
    """W&B's `run.delete()`: the run and its rows (`_delete`), for a caller who may write to the project; with
    `delete_artifacts`, the artifact versions it created too."""
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) and body.get(k) for k in ("entity", "project", "run_id")
    ):
        raise InvalidArgument("the body must be JSON: {entity, project, run_id, delete_artifacts}")
    from starlette.concurrency import run_in_threadpool

    from ._delete import delete_run as delete

    store, user = _store(request), _caller(request)
    entity, project, run_id = body["entity"], body["project"], body["run_id"]
    files = getattr(request.app.state, "files", None)
    await run_in_threadpool(
        delete, store, user, entity, project, run_id, files, bool(body.get("delete_artifacts"))
    )
    return _json({"deleted": f"{entity}/{project}/{run_id}"})


def read_routes() -> list[BaseRoute]:
    """The read API's routes, for `create_app`."""
    return [
        Route("/api/v1/projects", list_projects, methods=["GET"]),
        Route("/api/v1/runs", list_runs, methods=["GET"]),
        Route("/api/v1/runs/find", find_runs, methods=["GET"]),
        Route("/api/v1/runs/delete", delete_run, methods=["POST"]),
        Route("/api/v1/history", history, methods=["GET"]),
        Route("/api/v1/history/sampled", sampled_history, methods=["GET"]),
        Route("/api/v1/system", system, methods=["GET"]),
        Route("/api/v1/metrics", metrics, methods=["POST"]),
        Route("/api/v1/sweeps", list_sweeps, methods=["GET"]),
        Route("/api/v1/sweeps/find", find_sweeps, methods=["GET"]),
        Route("/api/v1/sweeps/runs", sweep_runs, methods=["GET"]),
    ]


__all__ = ["read_routes", "readable", "run_doc", "scope"]
