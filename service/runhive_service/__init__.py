"""runhive-service: the long-lived per-user, per-node daemon that owns every run stream."""

from runhive_service.daemon._config import ServiceConfig
from runhive_service.daemon._engine import Engine
from runhive_service.daemon._server import Server

__all__ = ["Engine", "Server", "ServiceConfig"]
