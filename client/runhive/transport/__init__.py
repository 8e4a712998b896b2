"""The client's way to the node's daemon: finding or starting it (`_daemon`), a small gRPC-over-HTTP/2 client on
its Unix socket (`_wire`, `_hpack`), and the one sender thread per process that batches every run's records and
keeps them until the daemon acknowledges them (`_sender`). Internal: the SDK uses it, users do not."""

__all__: list[str] = []
