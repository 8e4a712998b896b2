"""runhive-service: the long-lived per-user, per-node daemon that owns every run stream."""

from ._config import ServiceConfig
from ._engine import Engine
from ._server import Server

__all__ = ["Engine", "Server", "ServiceConfig"]
