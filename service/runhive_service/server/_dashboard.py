"""The dashboard served by `runhive server`: `runhive ui`'s app (`runhive_service.dashboard`), for the runs the
logged-in user may read.

- `GET /login` is a form for an API key; `POST /login` checks the key and sets the session cookie (`_sessions`:
  HttpOnly, SameSite=Strict, Secure behind https), then goes to the page asked for. `GET /logout` asks,
  `POST /logout` ends the session.
- Every other page and dashboard API answer needs a live session (`LoginGate`): a page without one goes to
  /login, an API call gets a JSON 401. The page's static files and plotly are served to anyone (they are code,
  not data).
- The dashboard reads through `runhive.Api` over this server's own read API (`ServerBackend` at the server's
  loopback address) with the session token as the bearer: the permission checks are the read API's, the same
  that `Api()` scripts meet, and nothing is read that the user could not read with their key.
- The sweep page's stop/pause/resume/cancel buttons act as the logged-in user, through the same controller call
  and permission check as `runhive sweep --<action>` against this server (`_sweeps.control_as`).
- A dashboard request holds a worker thread while its read API call needs another, so dashboard requests are
  limited (`DASHBOARD_CONCURRENCY`, an asyncio semaphore: waiting costs no thread) well below the thread pool's
  size: the read API always has threads left.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from runhive.errors import UsageError

from ._errors import ServerError, Unauthenticated
from ._sessions import COOKIE, SESSION_SECONDS
from ._store import ServerStore, User
from ._sweeps import control_as

log = logging.getLogger("runhive.server")

# Below anyio's default of 40 worker threads, with room for the read API calls and ingest.
DASHBOARD_CONCURRENCY = 12
PUBLIC_PREFIXES = ("/static/", "/vendor/")
LOGIN_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
_HEADERS = {
    "content-security-policy": LOGIN_CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is as good as none
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel else None
    return None


def _next_path(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (not //host or a scheme: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    doc = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)} · runhive</title>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<link rel=stylesheet href="/static/app.css"></head>'
        f'<body><main class="login"><h1>runhive</h1>{body}</main></body></html>'
    )
    return HTMLResponse(doc, status_code=status, headers=_HEADERS)


def _login_form(next_path: str, error: str | None = None, status: int = 200) -> HTMLResponse:
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return _page(
        "Log in",
        f"{message}<form method=post action=/login>"
        f'<input type=hidden name=next value="{html.escape(next_path, quote=True)}">'
        "<label for=key>API key</label> "
        "<input id=key name=key type=password autocomplete=current-password required autofocus size=60 "
        'placeholder="rhk_...">'
        " <button type=submit id=login>Log in</button></form>"
        "<p>Your key is what <code>runhive server user create</code> or <code>runhive server key create</code> "
        "printed; <code>runhive login --host URL KEY</code> takes the same key.</p>",
        status,
    )


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (no multipart: the login form has two fields); a body over 16 KiB is not read."""
    limit = 16 * 1024
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return {}
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items() if v}


def _same_origin(request: Request) -> bool:
    """A form post from this server's own page (login CSRF and logout CSRF are refused)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return site in ("same-origin", "none")
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1].lower() == host.lower()


def login_routes(store: ServerStore) -> list[BaseRoute]:
    async def login_page(request: Request) -> Response:
        return _login_form(_next_path(request.query_params.get("next")))

    async def login(request: Request) -> Response:
        form = await _form(request)
        next_path = _next_path(form.get("next"))
        if not _same_origin(request):
            return _login_form(next_path, "log in from this server's own login page", 403)
        try:
            token, user = await run_in_threadpool(store.open_session, form.get("key", "").strip() or None)
        except Unauthenticated as exc:
            return _login_form(next_path, str(exc), 401)
        log.info("dashboard login: user %s", user.name)
        response = RedirectResponse(next_path, status_code=303, headers={"cache-control": "no-store"})
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout_page(request: Request) -> Response:
        return _page(
            "Log out",
            "<form method=post action=/logout><button type=submit id=logout>Log out</button></form>",
        )

    async def logout(request: Request) -> Response:
        if not _same_origin(request):
            return _page("Log out", '<p class="error">log out from this server\'s own page</p>', 403)
        await run_in_threadpool(store.close_session, request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303, headers={"cache-control": "no-store"})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def whoami(request: Request) -> Response:
        try:
            user = await run_in_threadpool(store.session_user, request.cookies.get(COOKIE))
        except Unauthenticated as exc:
            return JSONResponse({"error": str(exc), "login": "/login"}, status_code=401)
        return JSONResponse({"user": user.name, "admin": user.is_admin, "logout": "/logout"})

    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout_page, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/whoami", whoami, methods=["GET"]),
    ]


class LoginGate:
    """Lets a request into the dashboard only with a live session, and at most DASHBOARD_CONCURRENCY at once.
    The session's user and token go into the request's state (`request.state.user`, `.session`)."""

    def __init__(self, app: ASGIApp, store: ServerStore) -> None:
        self.app = app
        self.store = store
        self._limit: asyncio.Semaphore | None = None  # made on the server's event loop, at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        token = _cookie(scope)
        try:
            user: User = await run_in_threadpool(self.store.session_user, token)
        except ServerError as exc:
            if scope["path"].startswith("/api/"):
                body = {"error": str(exc), "login": "/login"}
                await JSONResponse(body, status_code=401)(scope, receive, send)
            else:
                target = scope["path"] + (
                    "?" + scope["query_string"].decode() if scope.get("query_string") else ""
                )
                await RedirectResponse("/login?next=" + quote(target, safe="/"), status_code=303)(
                    scope, receive, send
                )
            return
        state = scope.setdefault("state", {})
        state["user"], state["session"] = user, token
        if self._limit is None:
            self._limit = asyncio.Semaphore(DASHBOARD_CONCURRENCY)
        async with self._limit:
            await self.app(scope, receive, send)


def dashboard_mount(store: ServerStore, self_url: Callable[[], str]) -> Mount:
    """The dashboard app behind the login gate, mounted at / after the server's own routes. `self_url()` is this
    server's own address (known once its socket is bound), where the dashboard reads the read API."""
    from runhive import Api
    from runhive_service.dashboard import UiConfig, create_app

    def reader(request: Request) -> Any:
        return Api(overrides={"base_url": self_url()}, api_key=request.state.session)

    def control(path: str, action: str, request: Request) -> str:
        # "Cannot pause finished sweep.", permission denied, no such sweep: the page shows the server's words
        try:
            return control_as(store, request.state.user, path, action)
        except ServerError as exc:
            raise UsageError(str(exc)) from None

    config = UiConfig(data_dir=None, reader=reader, check_host=False, sweep_control=control)
    app = create_app(config)
    return Mount("/", app=LoginGate(app, store))
