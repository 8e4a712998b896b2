"""The dashboard's ASGI app (Starlette): a JSON read API over the store and one static page that draws it.

It only reads: `runhive.Api` over the store file, the same reader scripts use. The page (`static/`) is plain
JavaScript with plotly's bundled library (from the `plotly` package, served as is).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


@dataclass
class UiConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8420
    buckets: int = 1000  # points per run and chart


def _finite(v: Any) -> Any:
    # JSON has no NaN or Infinity: a chart shows a gap there.
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return _finite(obj)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(_clean(data)), status_code=status, media_type="application/json")


def _numeric(summary: dict[str, Any]) -> dict[str, float]:
    return {
        k: v
        for k, v in summary.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("_")
    }


def create_app(config: UiConfig) -> Starlette:
    from runhive import Api

    def api() -> Any:
        return Api(overrides={"data_dir": str(config.data_dir)})

    def bad(message: str) -> Response:
        return JSONResponse({"error": message}, status_code=400)

    async def projects(request: Request) -> Response:
        with api() as a:
            found = a.project_summaries()
        return _json(
            [{"entity": p.entity, "project": p.name, "runs": p.runs, "last": p.last_run_at} for p in found]
        )

    async def runs(request: Request) -> Response:
        project = request.query_params.get("project")
        if not project:
            return bad("pass ?project=NAME")
        with api() as a:
            found = a.runs(project)
            out = [
                {
                    "id": r.id,
                    "entity": r.entity,
                    "project": r.project,
                    "name": r.name,
                    "state": r.state,
                    "created_at": r.created_at,
                    "steps": (r.last_step + 1) if (r.last_step or 0) >= 0 else 0,
                    "summary": _numeric(r.summary),
                    "config": r.config,
                    "group": r.group,
                }
                for r in found
            ]
        return _json(out)

    async def metric(request: Request) -> Response:
        project, key = request.query_params.get("project"), request.query_params.get("key")
        if not project or not key:
            return bad("pass ?project=NAME&key=METRIC")
        ids = request.query_params.get("runs")
        with api() as a:
            found = a.runs(project)
            if ids:
                wanted = set(ids.split(","))
                found = [r for r in found if r.id in wanted]
            series = a.metrics(key, found, buckets=config.buckets)
        return _json(series)

    def lookup(request: Request, what: str, hint: str) -> tuple[Any, Any] | Response:
        """The reader and the run or sweep that ?path= names, or the 400 / 404 answer."""
        path = request.query_params.get("path")
        if not path:
            return bad(f"pass ?path={hint}")
        a = api()
        try:
            return a, getattr(a, what)(path)
        except Exception as exc:  # the reader's UsageError says what was not found
            a.close()
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def run(request: Request) -> Response:
        found = lookup(request, "run", "entity/project/id")
        if isinstance(found, Response):
            return found
        a, r = found
        with a:
            system = r.history(stream="system")
            return _json(
                {
                    "id": r.id,
                    "entity": r.entity,
                    "project": r.project,
                    "name": r.name,
                    "state": r.state,
                    "notes": r.notes,
                    "tags": r.tags,
                    "created_at": r.created_at,
                    "config": r.config,
                    "summary": r.summary,
                    "keys": sorted(_numeric(r.summary)),
                    "system": system,
                }
            )

    async def sweeps(request: Request) -> Response:
        project = request.query_params.get("project")
        if not project:
            return bad("pass ?project=NAME")
        with api() as a:
            found = a.sweeps(project)
        return _json(
            [
                {"id": s.id, "name": s.name, "state": s.state, "config": s.config, "created_at": s.created_at}
                for s in found
            ]
        )

    async def sweep(request: Request) -> Response:
        found = lookup(request, "sweep", "entity/project/sweep_id")
        if isinstance(found, Response):
            return found
        a, sw = found
        with a:
            params = sorted((sw.config.get("parameters") or {}).keys())
            metric = sw.config.get("metric") or {}
            name = metric.get("name") if isinstance(metric, dict) else None
            runs = [
                {
                    "id": r.id,
                    "name": r.name,
                    "state": r.state,
                    "params": {k: r.config.get(k) for k in params},
                    "metric": r.summary.get(name) if name else None,
                }
                for r in sw.runs
            ]
            return _json(
                {
                    "id": sw.id,
                    "entity": sw.entity,
                    "project": sw.project,
                    "state": sw.state,
                    "method": sw.config.get("method"),
                    "metric": name,
                    "goal": metric.get("goal", "minimize") if isinstance(metric, dict) else None,
                    "params": params,
                    "expected_runs": sw.expected_run_count,
                    "runs": runs,
                }
            )

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def plotly_js(request: Request) -> Response:
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/projects", projects),
            Route("/api/runs", runs),
            Route("/api/metric", metric),
            Route("/api/run", run),
            Route("/api/sweeps", sweeps),
            Route("/api/sweep", sweep),
            Route("/vendor/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )


def serve(config: UiConfig) -> None:
    """Run the dashboard until interrupted (uvicorn)."""
    import uvicorn

    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")
