"""Constants both ends of the wire agree on, in a module light enough for `init()`'s import path."""

from __future__ import annotations

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # gRPC message limit, client and daemon
REFUSED_MD = "runhive-refused-bin"  # trailing metadata of Append: {writer: why its records were not written}
