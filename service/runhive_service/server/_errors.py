"""The team server's errors: each names what failed and how to fix it, and carries the HTTP status it answers.

They derive from `runhive.errors.Error`, so the `runhive` command prints them as `runhive: <message>`.
"""

from __future__ import annotations

from runhive.errors import Error


class ServerError(Error):
    """A request the team server refuses. `status` is its HTTP status, `code` a stable name for clients."""

    status = 500
    code = "INTERNAL"


class InvalidArgument(ServerError):
    status = 400
    code = "INVALID_ARGUMENT"


class Unauthenticated(ServerError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    code = "UNAUTHENTICATED"


class PermissionDenied(ServerError):
    status = 403
    code = "PERMISSION_DENIED"


class NotFound(ServerError):
    status = 404
    code = "NOT_FOUND"


class AlreadyExists(ServerError):
    status = 409
    code = "ALREADY_EXISTS"


class SchemaError(ServerError):
    """The database's schema cannot be used by this runhive (newer than it, or not migrated)."""

    status = 503
    code = "SCHEMA"
