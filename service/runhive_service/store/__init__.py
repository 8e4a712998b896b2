"""The local store: the node's embedded SQLite database (schema, writer, metric index, reads of metric chunks) and
its rebuild from run directories. The daemon's first sink and catalog, and `runhive.Api()`'s first backend."""

from ._chunkread import read_chunks, snapshot
from ._rebuild import rebuild
from ._schema import connect
from ._store import Store

__all__ = ["Store", "connect", "read_chunks", "rebuild", "snapshot"]
