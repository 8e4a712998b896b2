"""`Server`: binds the gRPC socket, writes the token, runs until SIGTERM, idle timeout or Shutdown."""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import signal
import threading
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from runhive.protocol.address import PID_NAME, SOCKET_NAME, TOKEN_NAME, ensure_private_dir
from runhive.protocol.limits import MAX_MESSAGE_BYTES
from runhive.protocol.v1 import service_pb2_grpc as pb_grpc
from runhive_service.store import Store

from ._config import ServiceConfig
from ._engine import Engine
from ._servicer import Servicer
from ._uploader import Uploader

if TYPE_CHECKING:
    from runhive_service.sweeps import SweepController

logger = logging.getLogger("runhive_service")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _lock_store(data_dir: Path) -> int:
    """One daemon per store. A daemon started while the previous one is still flushing (after SIGTERM, say)
    waits here until that one has exited; the kernel releases the lock when its holder dies, even by SIGKILL."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / "store.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.info("waiting for the daemon that holds %s to finish", path)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _sweeps(engine: Engine, store: Store) -> SweepController:
    """The sweep controller, over the local store; its writes run on the engine's applier (the store's writer)."""
    from runhive_service.sweeps import SweepController, SweepStore

    controller = SweepController(SweepStore(store.path, lambda fn: engine.on_writer(lambda: store.write(fn))))
    engine.on_stop.append(controller.close)
    return controller


class Server:
    def __init__(self, cfg: ServiceConfig) -> None:
        self.cfg = cfg
        self._stop = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> int:
        directory = ensure_private_dir(self.cfg.directory)
        socket_path = directory / SOCKET_NAME
        token = secrets.token_hex(32)
        self._store_lock = _lock_store(self.cfg.data_dir)  # held until this process exits
        self.cfg.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = Store(self.cfg.store_path)
        # The local store is the catalog of the node's runs and its first sink; the uploader to team servers (for
        # runs whose InitRun names one) the second.
        uploader = Uploader(
            self.cfg.data_dir / "uploads", busy_elsewhere=lambda: store.lag, store_path=store.path
        )
        engine = Engine(self.cfg, catalog=store, sinks=[store, uploader])
        engine.on_idle = self.request_stop
        engine.start()
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.cfg.max_workers, thread_name_prefix="runhive-rpc"),
            options=[
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        pb_grpc.add_RunhiveServicer_to_server(
            Servicer(
                engine, token, str(socket_path), self.request_stop, lambda: _sweeps(engine, store), uploader
            ),
            server,
        )
        health_servicer = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        try:
            socket_path.unlink()
        except FileNotFoundError:
            pass
        server.add_insecure_port(f"unix:{socket_path}")
        server.start()
        os.chmod(socket_path, 0o600)
        health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        health_servicer.set("runhive.v1.Runhive", health_pb2.HealthCheckResponse.SERVING)
        _write_private(directory / PID_NAME, str(os.getpid()))
        _write_private(directory / TOKEN_NAME, token)  # last: clients connect once the token exists
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: self._stop.set())
        logger.info(
            "runhive-service %d listening on %s, store %s", os.getpid(), socket_path, self.cfg.store_path
        )
        self._stop.wait()
        logger.info("stopping: flushing the WAL and the store")
        health_servicer.enter_graceful_shutdown()
        # Stop taking connections first, so no client sees an ack from a daemon that is going away.
        for name in (TOKEN_NAME, PID_NAME, SOCKET_NAME):
            try:
                path = directory / name
                if name != PID_NAME or path.read_text().strip() == str(os.getpid()):
                    path.unlink()
            except (FileNotFoundError, OSError):
                pass
        server.stop(grace=2).wait()
        engine.stop()
        logger.info("stopped")
        return 0
