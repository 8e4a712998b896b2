"""The contract between a runhive client and the node's daemon, imported by both sides.

`v1` is protoc's code for `proto/runhive/protocol/v1/service.proto` (checked in; `make proto-check` fails on drift);
`messages` loads those messages cheaply; `rows` is the columnar encoding of history rows inside records; `metrics`
the summary rules of `define_metric` that client and daemon both apply; `ids` run ids; `limits` the wire's bounds;
`address` where a node's daemon listens; `artifact_store` the node's artifact store layout (the client writes
it, the daemon's uploader reads it to send artifacts to a team server). Nothing here imports the SDK or the
service.
"""

__all__: list[str] = []
