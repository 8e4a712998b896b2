"""The service's one exception: a request refused, with the gRPC status code the servicer answers it with."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the daemon refuses; `code` names the gRPC status (`"NOT_FOUND"`, `"INVALID_ARGUMENT"`, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
