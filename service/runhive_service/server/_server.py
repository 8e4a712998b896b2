"""`runhive server`, as uvicorn is built: a `ServerConfig` (what to serve), a `Server` that opens the database,
migrates it and serves, and a thin CLI (`runhive.cli._server`) that makes the one from the other.

The server holds no state that only one process has (keys, memberships and, later, upload marks and sweep
leases are rows in the database), so any number of them can serve one database behind a load balancer.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from ._db import database_url, open_engine, shown_url
from ._filestore import FileStore, open_file_store
from ._liveness import RUN_TIMEOUT, Reaper
from ._migrate import check_schema, migrate
from ._store import ServerStore


@dataclass
class ServerConfig:
    db: str  # postgresql://... or sqlite:///path
    host: str = "127.0.0.1"
    port: int = 8080  # 0: any free port (the bound one is in `Server.url`)
    migrate: bool = True  # upgrade the schema at start (under a lock); False: refuse an outdated schema
    log_level: str = "warning"
    pool_size: int = 5
    # Run files: a directory or s3://bucket/prefix; None: files/ beside a SQLite database (PostgreSQL needs it).
    files: str | None = None
    s3_endpoint_url: str | None = None  # None: boto3's own (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS)
    allow_anonymous: bool = False  # hand out anonymous users (W&B's init(anonymous="allow"|"must"))
    dashboard: bool = True  # serve the dashboard at / (API-key login, session cookie)
    # Seconds without a word from a running run's node before the run is marked crashed (`_liveness`); 0: never.
    run_timeout: float = RUN_TIMEOUT


class Server:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.url_db = database_url(config.db)
        self.engine: Engine | None = None
        self.revision: str | None = None
        self.socket: socket.socket | None = None
        self.files: FileStore | None = None

    @property
    def db_shown(self) -> str:
        return shown_url(self.url_db)

    def open(self) -> ServerStore:
        """Open the database and bring its schema to this runhive's (or check it is there)."""
        self.engine = open_engine(self.url_db, pool_size=self.config.pool_size)
        self.revision = migrate(self.engine) if self.config.migrate else check_schema(self.engine)
        return ServerStore(self.engine)

    def bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        sock.listen(2048)
        sock.set_inheritable(True)
        self.socket = sock
        return sock

    @property
    def url(self) -> str:
        assert self.socket is not None, "bind() first"
        host, port = self.socket.getsockname()[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    @property
    def loopback_url(self) -> str:
        """This server's own address as a client on this machine reaches it (the dashboard reads the read API
        there): a wildcard bind (0.0.0.0, ::) by the loopback address."""
        assert self.socket is not None, "bind() first"
        host, port = self.socket.getsockname()[:2]
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def run(self, ready: Callable[[Server], None] | None = None) -> None:
        """Migrate, bind, call `ready(self)`, then serve until SIGINT/SIGTERM (uvicorn's graceful shutdown)."""
        import uvicorn

        from ._app import create_app

        # The file store first: a server that could not keep files should not start and lose them.
        self.files = open_file_store(self.config.files, self.url_db, self.config.s3_endpoint_url)
        store = self.open()
        sock = self.bind()
        config = uvicorn.Config(
            create_app(
                store,
                files=self.files,
                allow_anonymous=self.config.allow_anonymous,
                self_url=(lambda: self.loopback_url) if self.config.dashboard else None,
            ),
            log_level=self.config.log_level,
            access_log=False,
            lifespan="off",
        )
        server = _uvicorn_server()(config)
        reaper = Reaper(store.engine, self.config.run_timeout) if self.config.run_timeout > 0 else None
        if reaper is not None:
            reaper.start()
        if ready is not None:
            ready(self)
        try:
            server.run(sockets=[sock])
        finally:
            if reaper is not None:
                reaper.stop()
            sock.close()
            if self.engine is not None:
                self.engine.dispose()


def _uvicorn_server() -> type[Any]:
    import uvicorn

    class Uvicorn(uvicorn.Server):
        """uvicorn's server, except that after a graceful shutdown on SIGINT/SIGTERM the process exits normally
        (status 0) instead of raising the signal again: a stop that finished its requests is not a failure."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    captured = getattr(self, "_captured_signals", None)
                    if isinstance(captured, list):
                        captured.clear()

    return Uvicorn
