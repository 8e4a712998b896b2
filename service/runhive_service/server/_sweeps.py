"""Sweeps on the team server: the same three calls agents and `runhive.sweep()` make to their node's daemon, over
HTTP, with the same protobuf messages (the client keeps one code path and picks the transport):

    POST /api/v1/sweeps/rpc/CreateSweep    body: runhive.v1.CreateSweepRequest   → CreateSweepResponse
    POST /api/v1/sweeps/rpc/SweepAgent     body: runhive.v1.SweepAgentRequest    → SweepAgentResponse
    POST /api/v1/sweeps/rpc/SweepControl   body: runhive.v1.SweepControlRequest  → SweepControlResponse

(`application/x-protobuf`, `Authorization: Bearer KEY`). The controller is the daemon's (`runhive_service.sweeps`)
over the database (`_sweeps_store`): creating needs write permission on the project (made private when new),
agents and stop/pause/resume/cancel need write, `get` needs read. Refusals answer `{"error", "code"}` as every
server error, with the daemon's status names (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ...) and words.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.errors import ServiceError
from runhive_service.sweeps import SweepController

from ._errors import InvalidArgument, NotFound, PermissionDenied, ServerError, Unauthenticated
from ._store import ServerStore, User
from ._sweeps_store import ServerSweeps

MAX_BODY = 4 * 1024 * 1024  # a sweep config, or an agent's lists of run ids
PROTOBUF = "application/x-protobuf"


class FailedPrecondition(ServerError):
    status = 409
    code = "FAILED_PRECONDITION"


_BY_CODE: dict[str, type[ServerError]] = {
    "INVALID_ARGUMENT": InvalidArgument,
    "NOT_FOUND": NotFound,
    "FAILED_PRECONDITION": FailedPrecondition,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
}

_METHODS: dict[str, tuple[type[Message], Callable[[SweepController], Callable[..., Message]]]] = {
    "CreateSweep": (pb.CreateSweepRequest, lambda c: c.create),
    "SweepAgent": (pb.SweepAgentRequest, lambda c: c.agent),
    "SweepControl": (pb.SweepControlRequest, lambda c: c.control),
}

_controller_lock = threading.Lock()


def _controller(app: Starlette) -> SweepController:
    """The process's controller (its state is in the database; it keeps only caches)."""
    with _controller_lock:
        controller = getattr(app.state, "sweep_controller", None)
        if controller is None:
            store: ServerStore = app.state.store
            controller = SweepController(ServerSweeps(store))
            app.state.sweep_controller = controller
        return controller  # type: ignore[no-any-return]


def _call(request: Request, method: str, body: bytes) -> Response:
    store: ServerStore = request.app.state.store
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    user = store.authenticate(value.strip() if scheme.lower() == "bearer" and value.strip() else None)
    message_type, bound = _METHODS[method]
    try:
        req = message_type.FromString(body)
    except DecodeError:
        raise InvalidArgument(
            f"the body of POST /api/v1/sweeps/rpc/{method} is not a serialized runhive.v1.{method}Request"
        ) from None
    try:
        reply: Any = bound(_controller(request.app))(req, caller=user)
    except ServiceError as exc:
        raise _BY_CODE.get(exc.code, ServerError)(str(exc)) from None
    return Response(reply.SerializeToString(), media_type=PROTOBUF)


def control_as(store: ServerStore, user: User, path: str, action: str) -> str:
    """Stop, cancel, pause or resume the sweep `entity/project/id` as `user` (the dashboard's sweep buttons):
    the same call and permission check as `runhive sweep --<action>`; the sweep's state after it."""
    controller = _dashboard_controllers.get(id(store))
    if controller is None:
        with _controller_lock:
            controller = _dashboard_controllers.setdefault(id(store), SweepController(ServerSweeps(store)))
    try:
        reply = controller.control(pb.SweepControlRequest(sweep=path, action=action), caller=user)
    except ServiceError as exc:
        raise _BY_CODE.get(exc.code, ServerError)(str(exc)) from None
    return str(reply.state)


_dashboard_controllers: dict[int, SweepController] = {}


async def sweep_rpc(request: Request) -> Response:
    method = request.path_params["method"]
    if method not in _METHODS:
        raise NotFound(f"no sweep call {method!r}: one of {', '.join(_METHODS)}")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidArgument(f"a {method} request of {len(body)} bytes is over the limit of {MAX_BODY}")
    # The controller's database work blocks: it runs in the thread pool, as the plain endpoints do.
    return await run_in_threadpool(_call, request, method, body)


def routes() -> list[BaseRoute]:
    return [Route("/api/v1/sweeps/rpc/{method}", sweep_rpc, methods=["POST"])]
