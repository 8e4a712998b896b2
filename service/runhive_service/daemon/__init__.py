"""The node's daemon, `runhive-service`: its config, the gRPC server and servicer on the Unix socket, the engine
(run streams, committer, applier, watcher), and the system monitor. Records go from here to the sinks
(`runhive_service.streams`)."""

from ._config import ServiceConfig
from ._engine import Engine
from ._server import Server

__all__ = ["Engine", "Server", "ServiceConfig"]
