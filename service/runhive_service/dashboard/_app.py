"""The dashboard's ASGI app (Starlette): a JSON read API over the store and one static page that draws it.

It only reads: `runhive.Api` over the store file, the same reader scripts use. The page (`static/`) is plain
JavaScript with plotly's bundled library (from the `plotly` package, served gzip-compressed once and cached).

The API (issue 15): /api/projects; /api/runs (?filters= in Api().runs' language); /api/changes?since= (the runs
updated since a cursor, and the next cursor: what a live page polls); /api/metrics (many keys of many runs in one
answer, without min/max columns when nothing is downsampled; ?points= lowers the points a run, which a page
charting many runs asks for); /api/run (with an overview from its metadata);
/api/sweeps; /api/sweep (parameter kinds, importance and correlation from `_importance`, the best run);
/api/project/media (a project's media panels); /api/run/{files,file,console,media,table,artifacts} (`_runpage`:
a run's files, served only from its own files, its console output, media, tables and artifacts);
POST /api/sweep/control (`_sweep_actions`: stop/pause/resume/cancel, same-origin only). Endpoints are plain
functions: Starlette runs them in its thread pool, off the event loop.

Security (issue 15): the app answers only requests whose Host header names this machine (or an address or name
the user allowed: DNS rebinding), sends a strict Content-Security-Policy and friends on every response, answers
bad requests with 4xx JSON and anything unexpected with a JSON 500 without a traceback, and never puts the
store's file-system path in a body. The page puts every stored string into the DOM as text and escapes it for
plotly, which would otherwise render its HTML-like markup (`<a href>`, `<span style>`).
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runhive.errors import UsageError

from ._common import (
    HEAVY,
    Endpoint,
    Refusal,
    _encoded,
    _finite,
    _json,
    _mapping,
    _numeric,
    path_param,
    project_param,
    scrub,
)
from ._files import media_name, relative_refs
from ._importance import importance, kind
from ._media import PROJECT_RUNS, latest_media
from ._runpage import run_endpoints
from ._sweep_actions import SweepControl, sweep_action_endpoint

STATIC = Path(__file__).parent / "static"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")
log = logging.getLogger("runhive.ui")

# Scripts and styles from this origin only: no inline script, no other origin. plotly sets inline styles on the
# elements it draws and adds <style> rules, hence 'unsafe-inline' for styles (not scripts); its WebGL traces (the
# sweep page's parallel coordinates, drawn with regl) compile their drawing code with `new Function`, hence
# 'unsafe-eval' (without it that chart says "WebGL is not supported").
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "media-src 'self'",  # audio and video media, from the run's files
        "frame-src 'self'",  # HTML media: a sandboxed <iframe> of the file route (a policy of its own)
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


# The reader a request reads through: `runhive.Api` (closed by the endpoint). `runhive server` passes one that
# reads as the request's logged-in user; `runhive ui` reads the local store at `UiConfig.data_dir`.
Reader = Callable[[Request], Any]


@dataclass
class UiConfig:
    data_dir: Path | None  # the local store; None when `reader` is given (the team server)
    host: str = "127.0.0.1"
    port: int = 8420
    buckets: int = 1000  # points per run and chart
    allowed_hosts: tuple[str, ...] = ()  # Host header names accepted besides this machine's (--allowed-host)
    # Changes a sweep's state through the node's sweep controller (the sweep page's buttons); None: no buttons.
    sweep_control: SweepControl | None = None
    reader: Reader | None = None  # None: Api over the local store at data_dir
    # Behind `runhive server`'s login: its app checks the session and the hosts itself (any Host is fine when a
    # page is only answered to a logged-in user: DNS rebinding brings no cookie).
    check_host: bool = True


def allowed_hosts(config: UiConfig) -> list[str]:
    """The Host header names the app answers: this machine's, the listening address if it names one (not a
    wildcard such as 0.0.0.0), and the user's extra names. IPv6 literals also in their bracketed header form."""
    names = [*LOCAL_HOSTS]
    for given in config.allowed_hosts:
        if "*" in given[1:] or (given.startswith("*") and given != "*" and not given.startswith("*.")):
            raise UsageError(
                f"--allowed-host {given!r}: pass a host name or address, or a wildcard such as '*.example.com'"
            )
    for name in (config.host, *config.allowed_hosts):
        name = name.strip().lower()
        if name in WILDCARD_HOSTS:
            continue
        names.append(name)
        try:
            if ipaddress.ip_address(name.strip("[]")).version == 6:
                names += [name.strip("[]"), f"[{name.strip('[]')}]"]
        except ValueError:
            pass
    return list(dict.fromkeys(names))


class SecurityHeaders:
    """Adds the security headers to every response, the host check's refusals and error answers included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CatchAll:
    """The last resort: an exception no endpoint expected answers JSON 500 without a traceback (logged instead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("runhive ui: %s %s failed", scope.get("method", ""), scope.get("path", ""))
            if started or scope["type"] != "http":
                raise
            body = {"error": "internal error: the dashboard could not answer (see the server's log)"}
            await JSONResponse(body, status_code=500)(scope, receive, send)


CACHED = "public, max-age=86400"  # plotly and the page's files: revalidated by ETag after a day
MIN_POINTS = 50  # ?points= below this is raised to it: a chart of a run needs some shape


def _compact(series: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A series ready for JSON: without its min/max columns when every bucket is one point (nothing
    downsampled), and ±Inf as null (a series' NaN already is)."""
    out = {name: [v if v is None or v - v == 0 else None for v in col] for name, col in series.items()}
    if out.get("min") == out.get("last") and out.get("max") == out.get("last"):
        return {"step": out.get("step", []), "last": out.get("last", [])}
    return out


@functools.lru_cache(maxsize=2)
def _gzipped(path: Path, mtime: float, size: int) -> tuple[bytes, str]:
    """A file compressed once (at the highest level) and its ETag: plotly's 4.8 MB are 1.4 MB."""
    body = gzip.compress(path.read_bytes(), 9)
    return body, f'"{int(mtime)}-{size}-gz"'


def _runtime(r: Any) -> float:
    rt = _mapping(r.summary).get("_runtime")
    if isinstance(rt, (int, float)) and not isinstance(rt, bool):
        return float(rt)
    return max(0.0, float(r.updated_at or 0) - float(r.created_ts or 0))


def _run_row(r: Any) -> dict[str, Any]:
    """A run as the runs table shows it."""
    return {
        "id": r.id,
        "entity": r.entity,
        "project": r.project,
        "name": r.name,
        "state": r.state,
        "exit_code": r.exit_code,
        "created_at": r.created_ts,  # epoch seconds (ApiRun.created_at is W&B's ISO string)
        "updated_at": r.updated_at,
        "runtime": _runtime(r),
        "steps": (r.last_step + 1) if (r.last_step or 0) >= 0 else 0,
        "summary": _numeric(r.summary),
        "config": r.config,
        "group": r.group,
        "job_type": r.job_type,
        "tags": r.tags,
        "notes": r.notes,
    }


def _no_credentials(url: str) -> str:
    """A git remote without the user and token an https URL may carry (https://user:token@host/...), a local
    one by its name."""
    url = url.strip()
    if url.startswith(("/", "file://")):  # a repository on this machine: by its name, no absolute path
        return Path(url.removeprefix("file://")).name
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url, flags=re.I)


def _overview(meta: dict[str, Any], *paths: Path) -> dict[str, Any]:
    """What the run page's overview shows of a run's metadata: host, python, command and git commit (no
    absolute paths: the program by its name)."""
    program = meta.get("program")
    args = meta.get("args")
    command = None
    if isinstance(program, str) and program:
        words = [Path(program).name if program.startswith("/") else program]
        words += [str(a) for a in args] if isinstance(args, list) else []
        command = scrub(" ".join(["python", *words]), *paths)
    git = _mapping(meta.get("git"))
    return {
        "host": meta.get("host") if isinstance(meta.get("host"), str) else None,
        "python": meta.get("python") if isinstance(meta.get("python"), str) else None,
        "command": command,
        "git_commit": git.get("commit") if isinstance(git.get("commit"), str) else None,
        "git_remote": _no_credentials(git["remote"]) if isinstance(git.get("remote"), str) else None,
    }


def create_app(config: UiConfig) -> Starlette:
    from runhive import Api

    paths = (config.data_dir,) if config.data_dir is not None else ()

    def api(request: Request) -> Any:
        if config.reader is not None:
            return config.reader(request)
        return Api(overrides={"data_dir": str(config.data_dir)})

    def answering(fn: Endpoint) -> Endpoint:
        """A refusal or the reader's UsageError as 4xx JSON, without the store's path."""

        def endpoint(request: Request) -> Response:
            # A plain function: Starlette runs it in its thread pool, so store reads never block the event loop.
            try:
                return fn(request)
            except Refusal as exc:  # our own messages: they echo the request, never name a file
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            except UsageError as exc:
                return JSONResponse({"error": scrub(str(exc), *paths)}, status_code=400)

        return endpoint

    def projects(request: Request) -> Response:
        with api(request) as a:
            found = a.project_summaries()
        return _json(
            [{"entity": p.entity, "project": p.name, "runs": p.runs, "last": p.last_run_at} for p in found]
        )

    def runs(request: Request) -> Response:
        project = project_param(request)
        filters = request.query_params.get("filters")
        parsed = None
        if filters:
            try:
                parsed = json.loads(filters)
            except ValueError:
                raise Refusal(400, "filters: pass a JSON object, as Api().runs(filters=...) takes") from None
            if not isinstance(parsed, dict):
                raise Refusal(400, "filters: pass a JSON object, as Api().runs(filters=...) takes")
        with api(request) as a:
            out = [_run_row(r) for r in a.runs(project, filters=parsed)]
        return _json(out)

    def changes(request: Request) -> Response:
        """The runs updated since the cursor ?since= (a run's updated_at; 0 for all) and the next cursor."""
        project = project_param(request)
        try:
            since = float(request.query_params.get("since", "0"))
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            raise Refusal(400, "since: pass the cursor a previous answer gave (a number)")
        with api(request) as a:
            found = [_run_row(r) for r in a.runs_since(project, since)]
        cursor = max([since, *(r["updated_at"] or 0 for r in found)])
        return _json({"cursor": cursor, "runs": found})

    def points(request: Request) -> int:
        """?points=: at most this many points a run (min/max kept per bucket: spikes stay), at least MIN_POINTS;
        the configured budget when absent or larger."""
        given = request.query_params.get("points")
        if not given:
            return config.buckets
        try:
            n = int(given)
        except ValueError:
            raise Refusal(400, "points: pass a whole number of points a run (e.g. points=200)") from None
        return max(min(MIN_POINTS, config.buckets), min(n, config.buckets))

    def metrics(request: Request) -> Response:
        """Many metrics of many runs in one answer: {key: {run id: series}} (?key= repeated, or ?keys=a,b), each
        run's series in at most ?points= points."""
        project = project_param(request)
        budget = points(request)
        keys = request.query_params.getlist("key")
        if request.query_params.get("keys"):
            keys += request.query_params["keys"].split(",")
        keys = list(dict.fromkeys(k for k in keys if k))
        if not keys:
            raise Refusal(400, "pass ?project=NAME&key=METRIC (repeated) or &keys=A,B")
        if len(keys) > 1000:
            raise Refusal(400, "at most 1000 keys a request")
        ids = request.query_params.get("runs")
        with HEAVY, api(request) as a:
            found = a.runs(project)
            if ids:
                wanted = set(ids.split(","))
                found = [r for r in found if r.id in wanted]
            out = {
                key: {rid: _compact(s) for rid, s in a.metrics(key, found, buckets=budget).items()}
                for key in keys
            }
            # Cleaned already (_compact): no second walk over every value. Compressed here, in the thread pool
            # and under the heavy-request limit, not by the middleware on the event loop.
            return _encoded(json.dumps(out).encode(), request)

    def metric(request: Request) -> Response:
        project, key = project_param(request), request.query_params.get("key")
        if not key:
            raise Refusal(400, "pass ?project=NAME&key=METRIC")
        ids = request.query_params.get("runs")
        budget = points(request)
        with HEAVY, api(request) as a:
            found = a.runs(project)
            if ids:
                wanted = set(ids.split(","))
                found = [r for r in found if r.id in wanted]
            series = a.metrics(key, found, buckets=budget)
        return _json(series)

    def lookup(request: Request, what: str, hint: str) -> tuple[Any, Any]:
        """The reader and the run or sweep that ?path= names; 400 for a malformed path, 404 if none."""
        path = path_param(request, what + "s", hint)
        a = api(request)
        try:
            return a, getattr(a, what)(path)
        except UsageError as exc:  # its message names the store's path
            a.close()
            if str(exc).startswith("Could not find"):
                raise Refusal(404, f"no {what} {path!r} in the store (pass ?path={hint})") from None
            raise Refusal(400, scrub(str(exc), *paths)) from None  # a sweep id in several projects
        except BaseException:
            a.close()
            raise

    def run(request: Request) -> Response:
        a, r = lookup(request, "run", "entity/project/id")
        with a:
            system = r.history(stream="system", pandas=False, samples=None)
            git = _mapping(_mapping(r.metadata).get("git"))
            diff = media_name(r, git.get("diff")) if git.get("diff") else None
            diff = diff if diff and r.files([diff]) else None
            return _json(
                {
                    **_run_row(r),
                    "summary": relative_refs(dict(r.summary), r),
                    "keys": sorted(_numeric(r.summary)),
                    "system": system,
                    "overview": {**_overview(_mapping(r.metadata), *paths), "git_diff": diff},
                }
            )

    def sweeps(request: Request) -> Response:
        project = project_param(request)
        with api(request) as a:
            found = a.sweeps(project)
        return _json(
            [
                {
                    "id": s.id,
                    "name": s.name,
                    "state": s.state,
                    "config": _mapping(s.config),
                    "created_at": s.created_ts,
                }
                for s in found
            ]
        )

    def sweep(request: Request) -> Response:
        a, sw = lookup(request, "sweep", "entity/project/sweep_id")
        with a:
            # A stored config is the user's: its parameters or metric may not have the shape a sweep needs
            # (a list of parameters, say); the page then shows the runs without those columns.
            cfg = _mapping(sw.config)
            specs = _mapping(cfg.get("parameters"))
            params = sorted(str(k) for k in specs)
            kinds = {k: kind(specs.get(k)) for k in params}
            metric = _mapping(cfg.get("metric"))
            name = metric.get("name")
            name = name if isinstance(name, str) else None
            goal = metric.get("goal", "minimize") if name else None
            runs = [
                {
                    "id": r.id,
                    "name": r.name,
                    "state": r.state,
                    "created_at": r.created_ts,
                    "updated_at": r.updated_at,
                    "params": {k: _mapping(r.config).get(k) for k in params},
                    "metric": _mapping(r.summary).get(name) if name else None,
                }
                for r in sw.runs
            ]
            scored = [r for r in runs if isinstance(_finite(r["metric"]), (int, float))]
            best = None
            if scored:
                pick = max if goal == "maximize" else min
                best = pick(scored, key=lambda r: r["metric"])["id"]
            ranked = importance(params, kinds, [r["params"] for r in runs], [r["metric"] for r in runs])
            return _json(
                {
                    "id": sw.id,
                    "entity": sw.entity,
                    "project": sw.project,
                    "name": sw.name,
                    "state": sw.state,
                    "method": cfg.get("method"),
                    "metric": name,
                    "goal": goal,
                    "params": params,
                    "kinds": kinds,
                    "expected_runs": sw.expected_run_count,
                    "runs": runs,
                    "best": best,
                    "importance": ranked,
                    "config": cfg,
                    "controls": config.sweep_control is not None,
                }
            )

    def project_media(request: Request) -> Response:
        """The media panels of a project's page: the last media values of the runs ?runs= (ids, in the page's
        order; at most PROJECT_RUNS)."""
        project = project_param(request)
        ids = [i for i in request.query_params.get("runs", "").split(",") if i][:PROJECT_RUNS]
        with api(request) as a:
            by_id = {r.id: r for r in a.runs(project)}
            return _json(latest_media([by_id[i] for i in ids if i in by_id]))

    run_pages = run_endpoints(lambda request: lookup(request, "run", "entity/project/id"))

    def unknown(request: Request) -> Response:
        raise Refusal(404, f"no such API endpoint: {request.url.path}")

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def plotly_js(request: Request) -> Response:
        import plotly

        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        if "gzip" not in request.headers.get("accept-encoding", ""):
            return FileResponse(path, headers={"cache-control": CACHED})
        st = path.stat()
        body, etag = await run_in_threadpool(_gzipped, path, st.st_mtime, st.st_size)
        headers = {"etag": etag, "cache-control": CACHED, "vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/javascript", headers={**headers, "content-encoding": "gzip"})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/projects", answering(projects)),
            Route("/api/runs", answering(runs)),
            Route("/api/metric", answering(metric)),
            Route("/api/metrics", answering(metrics)),
            Route("/api/changes", answering(changes)),
            Route("/api/run", answering(run)),
            Route("/api/sweeps", answering(sweeps)),
            Route("/api/sweep", answering(sweep)),
            *[Route(f"/api/run/{name}", answering(fn)) for name, fn in run_pages.items()],
            Route("/api/project/media", answering(project_media)),
            Route("/api/sweep/control", sweep_action_endpoint(config.sweep_control), methods=["POST"]),
            Route("/api/{rest:path}", answering(unknown)),
            Route("/vendor/plotly.min.js", plotly_js),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            # JSON answers compressed at level 4: 4 times smaller at a fifth of level 9's time (plotly comes
            # compressed already, once).
            Middleware(GZipMiddleware, minimum_size=1024, compresslevel=4),
            *(
                [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(config), www_redirect=False)]
                if config.check_host
                else []
            ),
            Middleware(CatchAll),
        ],
    )


def serve(config: UiConfig) -> None:
    """Run the dashboard until interrupted (uvicorn)."""
    import sys

    import uvicorn

    # The GIL passed every millisecond, not every 5: a light request waiting behind heavy ones gets its turns
    # sooner (the heavy ones are I/O and C-heavy: they lose little).
    sys.setswitchinterval(0.001)
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="warning")
