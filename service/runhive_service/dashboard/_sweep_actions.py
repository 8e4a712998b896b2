"""The sweep page's stop / pause / resume / cancel buttons (issue 15, item 7): one POST route that asks the node's
sweep controller, as `runhive sweep --stop/--pause/--resume/--cancel` does (the caller of `create_app` passes the
function that does: `UiConfig.sweep_control`).

The only route that changes anything, so it is guarded against cross-site requests (CSRF) on top of the host
check every request passes: POST only; the custom header `X-Runhive-Action: 1` (a page of another origin cannot
send it without a CORS preflight, which the dashboard never grants, and an HTML form cannot send headers);
`Sec-Fetch-Site: same-origin` when the browser sends it; and an `Origin` naming the dashboard itself. The sweep and
the action are query parameters (`?path=entity/project/sweep_id&action=pause`), so the endpoint is a plain function
that Starlette runs in its thread pool, as every other.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runhive.errors import CommError, UsageError

from ._common import Refusal, scrub

__all__ = ["ACTIONS", "HEADER", "SweepControl", "check_same_origin", "sweep_action_endpoint"]

ACTIONS = ("stop", "cancel", "pause", "resume")
HEADER = "x-runhive-action"
# (entity/project/sweep id, action, the request) -> the sweep's state after it. The request says who asks: the
# team server acts as its logged-in user; `runhive ui` (one user, the node's controller) ignores it.
SweepControl = Callable[[str, str, Request], str]


def check_same_origin(request: Request) -> None:
    """403 unless the request comes from a page of this dashboard (see the module's docstring)."""
    if request.method != "POST":
        raise Refusal(405, "POST only")
    if request.headers.get(HEADER) != "1":
        raise Refusal(403, f"send the header {HEADER}: 1 (the dashboard's pages do)")
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise Refusal(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
    origin = request.headers.get("origin")
    if not origin:
        raise Refusal(403, "a request without an Origin header is refused")
    got = urlsplit(origin)
    if got.scheme != request.url.scheme or got.netloc.lower() != request.headers.get("host", "").lower():
        raise Refusal(403, f"cross-origin request refused (Origin: {origin})")


def sweep_action_endpoint(control: SweepControl | None) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        try:
            check_same_origin(request)
            path, action = request.query_params.get("path"), request.query_params.get("action")
            if action not in ACTIONS:
                raise Refusal(400, f"action {action!r}: pass one of {', '.join(ACTIONS)}")
            parts = path.split("/") if path else []
            if len(parts) != 3 or not all(parts):
                raise Refusal(400, f"path {path!r}: pass entity/project/sweep_id")
            if control is None:
                raise Refusal(
                    501, "this dashboard cannot control sweeps (started without a sweep controller)"
                )
            state = control(str(path), str(action), request)
            return JSONResponse({"path": path, "action": action, "state": state})
        except Refusal as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except UsageError as exc:  # the controller's refusal: "Cannot pause finished sweep."
            return JSONResponse({"error": scrub(str(exc))}, status_code=409)
        except CommError as exc:
            return JSONResponse({"error": scrub(str(exc))}, status_code=503)

    return endpoint
