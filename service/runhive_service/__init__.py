"""runhive-service: the long-lived per-user, per-node daemon that owns every run stream.

Rooms: `daemon` (server, engine, committer, watcher, system monitor), `streams` (run state and the sink seam),
`store` (the local SQLite store: a sink, the catalog of runs, the metric index, rebuild), `rundir` (what a run
directory holds on disk), `sweeps` (controller and rules), `dashboard` (`runhive ui`). Importing this package is
cheap: the client's read API imports the store without pulling in gRPC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .daemon import Engine, Server, ServiceConfig

__all__ = ["Engine", "Server", "ServiceConfig"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import daemon

        return getattr(daemon, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
