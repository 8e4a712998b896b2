"""Anonymous users, for W&B's `init(anonymous="allow"|"must")` (client side: `runhive.sdk._anonymous`).

A server started with `--allow-anonymous` answers `POST /api/v1/anonymous` with a new user named
`anony-mouse-<digits>` (W&B's naming) and its API key; everything else about that user is an ordinary user's. Their
projects are created open (`ServerStore.ensure_project`): an anonymous run is a result shared without an account, so
every logged-in user of the server may see it. Without the flag the route answers 403 and names both fixes; the
name prefix is reserved, so nobody can create a user that looks anonymous by hand.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import AlreadyExists, PermissionDenied

ANONYMOUS_PREFIX = "anony-mouse-"


def is_anonymous(user_name: str) -> bool:
    return user_name.startswith(ANONYMOUS_PREFIX)


def create_anonymous(request: Request) -> Response:
    if not getattr(request.app.state, "allow_anonymous", False):
        raise PermissionDenied(
            "this team server does not allow anonymous runs: log in (`runhive login --host URL KEY` with a key from "
            "the server's admin), or ask the admin to start `runhive server` with --allow-anonymous"
        )
    store = request.app.state.store
    for _ in range(8):  # 12 random digits: a collision is already unlikely; a few retries make it moot
        name = ANONYMOUS_PREFIX + "".join(secrets.choice("0123456789") for _ in range(12))
        try:
            user, key = store.create_user(name, anonymous=True)
        except AlreadyExists:
            continue
        return JSONResponse({"api_key": key.key, "entity": user.name, "user": user.name}, status_code=201)
    raise AlreadyExists("could not find a free anonymous user name; try again")


def anonymous_routes() -> list[BaseRoute]:
    return [Route("/api/v1/anonymous", create_anonymous, methods=["POST"])]


__all__ = ["ANONYMOUS_PREFIX", "anonymous_routes", "is_anonymous"]
