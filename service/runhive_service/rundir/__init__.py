"""What a run directory holds on disk, as the daemon, `runhive sync` and `runhive store rebuild` all read it: the
run's write-ahead log (`_wal`: length- and CRC-framed record groups), and the node's index of run directories."""

from ._index import append_index, index_entries

__all__ = ["append_index", "index_entries"]
