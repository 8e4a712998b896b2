"""The gRPC surface of the daemon. Every failure is a status for that call alone; nothing here can stop
the daemon, whatever a client sends."""

from __future__ import annotations

import functools
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from runhive import __version__
from runhive.protocol.limits import REFUSED_MD
from runhive.protocol.v1 import service_pb2 as pb
from runhive.protocol.v1 import service_pb2_grpc as pb_grpc
from runhive_service.errors import ServiceError
from runhive_service.rundir._wal import wal_name
from runhive_service.store import Store
from runhive_service.streams import run_key

from ._engine import Engine
from ._uploader import Uploader

if TYPE_CHECKING:
    from runhive_service.sweeps import SweepController

logger = logging.getLogger("runhive_service")
PROTOCOL_VERSION = pb.PROTOCOL_VERSION_CURRENT

F = TypeVar("F", bound=Callable[..., Any])


def _guarded(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except ServiceError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        except Exception as exc:  # a bug answers this call with INTERNAL; the daemon carries on
            logger.exception("%s failed", fn.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"{fn.__name__} failed: {type(exc).__name__}: {exc}")

    return wrapper  # type: ignore[return-value]


class Servicer(pb_grpc.RunhiveServicer):
    def __init__(
        self,
        engine: Engine,
        token: str,
        socket_path: str,
        shutdown: Callable[[], None],
        sweeps: Callable[[], SweepController],
        uploader: Uploader | None = None,
    ) -> None:
        """`sweeps()` builds the sweep controller, on the first sweep call: its imports would cost every
        daemon's start-up."""
        self.engine = engine
        self._make_sweeps = sweeps
        self._sweeps: SweepController | None = None
        self._sweeps_lock = threading.Lock()
        self._token = token
        self._socket = socket_path
        self._shutdown = shutdown
        # The sink that uploads runs to team servers: InitRun opens a run there first (so init() fails on a
        # refusal), FinishRun waits for it.
        self.uploader = uploader

    @property
    def sweeps(self) -> SweepController:
        with self._sweeps_lock:
            if self._sweeps is None:
                self._sweeps = self._make_sweeps()
            return self._sweeps

    @_guarded
    def Handshake(self, request: pb.HandshakeRequest, context: grpc.ServicerContext) -> pb.HandshakeResponse:
        if not hmac.compare_digest(request.token.encode(), self._token.encode()):
            raise ServiceError("UNAUTHENTICATED", "bad token: this daemon belongs to another user")
        if request.protocol_version != PROTOCOL_VERSION:
            raise ServiceError(
                "FAILED_PRECONDITION",
                f"runhive-service {__version__} speaks protocol {PROTOCOL_VERSION}, the client speaks "
                f"{request.protocol_version}.",
            )
        if request.pid <= 0:
            raise ServiceError("INVALID_ARGUMENT", f"pid must be positive, got {request.pid}")
        sess = self.engine.open_session(int(request.pid), float(request.pid_create_time), request.host)
        return pb.HandshakeResponse(
            protocol_version=PROTOCOL_VERSION,
            session=sess.id,
            daemon_pid=self.engine.status()["pid"],
            daemon_version=__version__,
        )

    @_guarded
    def InitRun(self, request: pb.InitRunRequest, context: grpc.ServicerContext) -> pb.InitRunResponse:
        sess = self.engine.session(request.session)
        if request.resume not in ("", "allow", "must", "never", "attach"):
            raise ServiceError("INVALID_ARGUMENT", f"unknown resume value {request.resume!r}")
        uploader = self.uploader if request.server_url else None
        if uploader is not None and request.resume != "attach":
            uploader.open_run(request)  # fills entity (the key's user) and id; raises the server's refusal
        reply = self.engine.init_run(sess, request)
        if uploader is not None:
            st = self.engine.stream_for(run_key(reply.info.entity, reply.info.project, reply.info.id))
            if st is not None:
                uploader.track(st, request)
        return reply

    @_guarded
    def Append(self, request: pb.Batch, context: grpc.ServicerContext) -> pb.Ack:
        sess = self.engine.session(request.session)
        refused: dict[str, str] = {}
        acks = self.engine.append(sess, request.groups, refused)
        if refused:  # groups whose WAL could not be written: their acks stay below what was sent
            context.set_trailing_metadata(((REFUSED_MD, json.dumps(refused).encode()),))
        return pb.Ack(acks=[pb.WriterAck(run_id=r, writer=w, seq=s) for r, w, s in acks])

    def _known_writer(self, run_id: str, writer: str) -> str | None:
        """NOT_FOUND for a run or writer this daemon never saw; the state of a run already settled and
        released from memory (everything applied), else None."""
        st = self.engine.stream_for(run_id)
        if st is not None:
            if writer not in st.writers:
                raise ServiceError("NOT_FOUND", f"run {run_id!r} has no writer {writer!r}")
            return None
        parts = run_id.split("/")
        stored = self.engine.catalog.find_run(*parts) if len(parts) == 3 else None
        if stored is None:
            raise ServiceError("NOT_FOUND", f"unknown run {run_id!r}")
        return stored.state

    @_guarded
    def Flush(self, request: pb.FlushRequest, context: grpc.ServicerContext) -> pb.FlushResponse:
        self.engine.session(request.session)
        if self._known_writer(request.run_id, request.writer) is not None:
            return pb.FlushResponse(done=True, applied_seq=request.seq)
        done, applied = self.engine.wait_applied(
            request.run_id, request.writer, request.seq, request.timeout, alive=context.is_active
        )
        return pb.FlushResponse(done=done, applied_seq=applied)

    @_guarded
    def FinishRun(self, request: pb.FinishRunRequest, context: grpc.ServicerContext) -> pb.FinishRunResponse:
        self.engine.session(request.session)
        settled = self._known_writer(request.run_id, request.writer)
        if settled is not None:
            return pb.FinishRunResponse(done=True, state=settled, applied_seq=request.seq)
        started = time.monotonic()
        done, applied = self.engine.wait_applied(
            request.run_id, request.writer, request.seq, request.timeout, alive=context.is_active
        )
        st = self.engine.stream_for(request.run_id)
        state = st.state if st is not None else ""
        pending = (
            "" if done else f"{request.seq - applied} records durable in the WAL but not yet in the store"
        )
        if done and self.uploader is not None:
            # The run is on its team server too (what the store holds of it), or finish() says what is pending.
            left = request.timeout - (time.monotonic() - started) if request.timeout > 0 else 1e9
            pending = self.uploader.wait(request.run_id, left)
            done = not pending
        return pb.FinishRunResponse(done=done, state=state, applied_seq=applied, pending=pending)

    @_guarded
    def Status(self, request: pb.StatusRequest, context: grpc.ServicerContext) -> pb.StatusResponse:
        self.engine.session(request.session)
        st = self.engine.status()
        return pb.StatusResponse(socket=self._socket, version=__version__, **st)

    def Sync(self, request: pb.SyncRequest, context: grpc.ServicerContext) -> Any:
        # A response stream: errors after the first message are reported in its last message (outcome failed).
        try:
            self.engine.session(request.session)
        except ServiceError as exc:
            context.abort(getattr(grpc.StatusCode, exc.code), str(exc))
        from ._sync import serve_sync

        return serve_sync(self.engine, request, context)

    @_guarded
    def CreateSweep(
        self, request: pb.CreateSweepRequest, context: grpc.ServicerContext
    ) -> pb.CreateSweepResponse:
        self.engine.session(request.session)
        return self.sweeps.create(request)  # type: ignore[no-any-return]

    @_guarded
    def SweepAgent(
        self, request: pb.SweepAgentRequest, context: grpc.ServicerContext
    ) -> pb.SweepAgentResponse:
        self.engine.session(request.session)
        return self.sweeps.agent(request)  # type: ignore[no-any-return]

    @_guarded
    def SweepControl(
        self, request: pb.SweepControlRequest, context: grpc.ServicerContext
    ) -> pb.SweepControlResponse:
        self.engine.session(request.session)
        return self.sweeps.control(request)  # type: ignore[no-any-return]

    @_guarded
    def DeleteRun(self, request: pb.DeleteRunRequest, context: grpc.ServicerContext) -> pb.DeleteRunResponse:
        self.engine.session(request.session)
        for name in ("entity", "project", "run_id"):
            if not getattr(request, name):
                raise ServiceError("INVALID_ARGUMENT", f"DeleteRun needs {name}")
        entity, project, run_id = request.entity, request.project, request.run_id
        key = run_key(entity, project, run_id)
        stores = [s for s in self.engine.sinks if isinstance(s, Store)]
        if not stores:
            raise ServiceError("FAILED_PRECONDITION", "this daemon has no local store to delete runs from")

        def delete() -> str | None:
            # On the applier thread: every group committed before this call is applied, none is half-way.
            if stores[0].find_run(entity, project, run_id) is None:
                return None
            self.engine.forget_run(key)
            return stores[0].delete_run(entity, project, run_id)

        run_dir = self.engine.on_writer(delete)
        if run_dir is None:
            raise ServiceError("NOT_FOUND", f"could not find run {key} in the local store")
        removed = _remove_run_dir(run_dir, run_id)
        logger.info("deleted run %s (directory %s %s)", key, run_dir, "removed" if removed else "kept")
        return pb.DeleteRunResponse(run_dir=run_dir, dir_removed=removed)

    @_guarded
    def Shutdown(self, request: pb.ShutdownRequest, context: grpc.ServicerContext) -> pb.ShutdownResponse:
        self.engine.session(request.session)
        self._shutdown()
        return pb.ShutdownResponse()


def _remove_run_dir(run_dir: str, run_id: str) -> bool:
    """Remove a deleted run's directory, only when it holds the run's WAL (so a directory the store names by
    mistake, or one a user reused, is never removed whole); else just the WAL, if any. True when removed."""
    import shutil
    from pathlib import Path

    if not run_dir:
        return False
    path = Path(run_dir)
    wal = path / wal_name(run_id)
    if not wal.is_file():
        return False
    try:
        shutil.rmtree(path)
    except OSError:
        logger.exception("could not remove the directory %s of a deleted run", path)
        try:  # at least the WAL: recovery would otherwise bring the run back
            wal.unlink()
        except OSError:
            pass
        return False
    return True
